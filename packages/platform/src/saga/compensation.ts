import { sql } from 'drizzle-orm';
import { isTransientFault } from '../resilience/faults.js';
import { DEFAULT_COMPENSATE_RETRY, backoffDelay, retryPolicy, type CompensationContext } from './definition.js';
import { transientRetries, type DriverDeps } from './driver.js';
import { FENCED, type Drive } from './log-writer.js';
import { errorMessage, ts } from './log.js';
import { assert, baseContext, stepAt } from './step-context.js';
import { SagaParked } from './transient.js';

/**
 * COMPENSATING(k): undo step k. A bracketed step's compensation commits STARTED and DONE around
 * it; a replayed or local step's is replayed like its run (idempotent, nothing written: the next
 * checkpoint records how far compensation got). Transient faults are retried until the step's
 * deadline, then the saga is parked (SagaParked) and recovery compensates on later; only
 * unclassified errors past their attempts leave it FAILED, for an operator.
 */
export async function compensateStep(deps: DriverDeps, drive: Drive, index: number): Promise<void> {
  const { log, clock, sleep, logger } = deps;
  const step = stepAt(drive, index);
  if (!step.compensate) {
    // Nothing to undo: moved in the drive only; the next checkpoint records it.
    drive.row = { ...drive.row, currentStep: index - 1 };
    return;
  }
  const failure = drive.row.state.failure;
  assert(failure !== undefined, 'a compensating saga has a failure');
  const policy = retryPolicy(DEFAULT_COMPENSATE_RETRY, step.compensateRetry);
  const bracketed = (step.log ?? 'bracketed') === 'bracketed';
  const logged = bracketed ? await log.readStep(drive.row.id, step.name, 'compensate') : undefined;
  assert(logged?.status !== 'DONE', 'a DONE compensation has moved current_step down in the same transaction');
  // A replayed step's result is what the drive or the last checkpoint holds; none after a crash before it.
  const stepResult = bracketed ? (await log.readStep(drive.row.id, step.name, 'run'))?.result : drive.row.state.results[step.name];
  let attempt = logged?.attempts ?? 0;
  let failures = attempt;
  const transient = transientRetries(deps, step);
  let lastError = logged?.error ?? 'no error recorded';
  for (;;) {
    if (failures >= policy.attempts) {
      const compensationError = { step: step.name, message: `gave up after ${failures} attempts: ${lastError}` };
      await log.write(drive, {
        status: 'FAILED',
        state: { ...drive.row.state, compensationError },
        finished: false,
        step: sql`insert into ${log.steps} (saga_id, step, phase, position, status, attempts, error, started_at, finished_at)
                  select ${drive.row.id}::uuid, ${step.name}::text, 'compensate', ${index}::int, 'FAILED', ${failures}::int, ${compensationError.message}, ${ts(clock.now())}, ${ts(clock.now())} from fenced
                  on conflict (saga_id, step, phase) do update set status = 'FAILED', error = excluded.error, finished_at = excluded.finished_at`,
        entry: { name: step.name, phase: 'compensate', status: 'FAILED', attempt },
      });
      logger?.error({ sagaId: drive.row.id, saga: drive.row.name, ...compensationError }, 'saga compensation gave up: needs an operator');
      return;
    }
    attempt += 1;
    const started = { name: step.name, phase: 'compensate' as const, status: 'STARTED' as const, attempt };
    if (bracketed) {
      await log.write(drive, {
        step: sql`insert into ${log.steps} (saga_id, step, phase, position, status, attempts, started_at)
                  select ${drive.row.id}::uuid, ${step.name}::text, 'compensate', ${index}::int, 'STARTED', ${failures + 1}::int, ${ts(clock.now())} from fenced
                  on conflict (saga_id, step, phase) do update
                    set status = 'STARTED', attempts = excluded.attempts, error = null, started_at = excluded.started_at, finished_at = null`,
        entry: started,
      });
    } else {
      log.observe(drive.row, false, started);
    }
    try {
      const ctx: CompensationContext<unknown> = { ...baseContext(drive, step, attempt), stepResult, failure };
      await step.compensate(ctx);
    } catch (err) {
      lastError = errorMessage(err);
      let delay: number;
      if (isTransientFault(err)) {
        const next = transient.nextDelay();
        if (next === undefined) throw new SagaParked(drive.row.id, step.name, 'compensate', err);
        logger?.info({ sagaId: drive.row.id, step: step.name, attempt, err }, 'saga compensation met a transient fault; retrying');
        delay = next;
      } else {
        failures += 1;
        logger?.warn({ sagaId: drive.row.id, step: step.name, attempt, err }, 'saga compensation failed');
        if (failures >= policy.attempts) continue;
        delay = backoffDelay(policy, failures, deps.retryTiming?.random);
      }
      const retrying = { name: step.name, phase: 'compensate' as const, status: 'RETRYING' as const, attempt };
      if (bracketed) {
        await log.write(drive, {
          step: sql`update ${log.steps} set error = ${lastError} where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'compensate' and ${FENCED}`,
          entry: retrying,
        });
      } else {
        log.observe(drive.row, false, retrying);
      }
      await sleep(delay);
      continue;
    }
    const done = { name: step.name, phase: 'compensate' as const, status: 'DONE' as const, attempt };
    if (!bracketed) {
      drive.row = { ...drive.row, currentStep: index - 1 };
      log.observe(drive.row, false, done);
      return;
    }
    await log.write(drive, {
      currentStep: index - 1,
      step: sql`update ${log.steps} set status = 'DONE', error = null, finished_at = ${ts(clock.now())}
                where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'compensate' and ${FENCED}`,
      entry: done,
    });
    return;
  }
}
