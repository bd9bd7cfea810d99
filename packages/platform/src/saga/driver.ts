import { sql } from 'drizzle-orm';
import { notFound, type Clock } from '@agora/kernel';
import type { Logger } from '../telemetry/logger.js';
import type { Tx } from '../storage/storage.js';
import {
  DEFAULT_RUN_RETRY,
  SAGA_LIMITS,
  FusedWrite,
  SagaAbort,
  WaitRequest,
  backoffDelay,
  retryPolicy,
  transientPolicy,
  type SagaDefinition,
  type SagaFailure,
  type SagaOutcome,
  type SagaStep,
  type SignalContext,
} from './definition.js';
import { compensateStep } from './compensation.js';
import { inSpan, tracingActive } from '../telemetry/tracing.js';
import { finish, settle } from './ending.js';
import { FENCED, SagaLeaseLost, type Drive, type SagaLogWriter } from './log-writer.js';
import { assert, stepAt, stepContext } from './step-context.js';
import { errorMessage, jsonb, outcomeOf, toJson, ts, type SagaRow, type SagaState } from './log.js';
import { isTransientFault } from '../resilience/faults.js';
import { SagaParked, TransientRetries, park } from './transient.js';

type Step = SagaStep<unknown>;

/** What driving a saga needs: its log, the time, a way to wait between retries, a logger. */
export interface DriverDeps {
  log: SagaLogWriter;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  logger: Logger | undefined;
  /**
   * How retries are timed: the jitter of their delays and the clock their transient deadline is
   * measured on (default Math.random and the wall clock, Date.now). The deterministic simulation
   * gives its seeded generator and its virtual clock.
   */
  retryTiming?: { random(): number; now(): number };
}

/** A step's transient-fault budget for one drive, timed as the drive's deps say. */
export function transientRetries(deps: DriverDeps, step: SagaStep<unknown>): TransientRetries {
  const timing = deps.retryTiming;
  return timing ? new TransientRetries(transientPolicy(step.transient), timing.now, timing.random) : new TransientRetries(transientPolicy(step.transient));
}

/** Attributes of saga spans. */
export const SAGA_SPAN_ATTRIBUTES = { sagaId: 'agora.saga.id', step: 'agora.saga.step', phase: 'agora.saga.phase' } as const;

/**
 * Drives one saga this instance holds the lease of, one transition per iteration, until it is
 * done, waits for a signal, or the lease is lost:
 *
 *   Transient faults (resilience/faults.ts) are retried until the step's deadline, then the saga
 *   is parked: unfinished, its lease ending soon, so recovery drives it on later (transient.ts).
 *   Only an abort (a business answer) or an unclassified error past its attempts compensates.
 *
 *   RUNNING(k):      run step k as its logging says (definition.ts `StepLogging`):
 *                      bracketed — commit STARTED(k), run, commit DONE(k) + current_step = k+1;
 *                      replayed  — run, keep the result and k+1 in the drive (no write);
 *                      local     — run inside the transaction that commits DONE(k) + k+1;
 *                    (abort → COMPENSATING from k-1; retries exhausted → COMPENSATING from k;
 *                     ctx.wait → WAITING, lease released)
 *   WAITING(k):      resume(signal) → RUNNING(k) and onSignal; past wait_until → COMPENSATING from k
 *   COMPENSATING(k): compensate k (bracketed: STARTED/DONE commits; otherwise replayed)
 *                    (retries exhausted → FAILED, for an operator)
 *   k = n → COMPLETED, k = -1 → COMPENSATED; then onFinished, then finished_at.
 *
 * Every checkpoint writes the status, step and state the drive holds, so what replayed steps did
 * since the last one is recorded by the next. A crash in between loses only replayable work.
 */
export class SagaDriver {
  private readonly log: SagaLogWriter;
  private readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly logger: Logger | undefined;

  constructor(private readonly deps: DriverDeps) {
    this.log = deps.log;
    this.clock = deps.clock;
    this.sleep = deps.sleep;
    this.logger = deps.logger;
  }

  async drive(definition: SagaDefinition<unknown>, row: SagaRow): Promise<SagaOutcome> {
    assert(row.leaseOwner === this.log.owner, 'a driven saga is leased to this instance');
    const drive: Drive = { definition, row, fresh: row.attempts === 1, written: new Set() };
    const heartbeat = this.log.startHeartbeat(drive);
    try {
      await inSpan(`saga ${definition.name}`, { attributes: { [SAGA_SPAN_ATTRIBUTES.sagaId]: row.id } }, () => this.advance(drive));
      return outcomeOf(drive.row);
    } catch (err) {
      if (err instanceof SagaParked || (!(err instanceof SagaLeaseLost) && isTransientFault(err))) {
        // Parked by a step past its deadline, or a log write met a transient fault itself.
        const step = err instanceof SagaParked ? drive.definition.steps.find((s) => s.name === err.step) : undefined;
        await park(this.deps, drive, err instanceof SagaParked ? err.fault : err, transientPolicy(step?.transient).parkMs);
        return outcomeOf(drive.row);
      }
      if (!(err instanceof SagaLeaseLost)) throw err;
      this.logger?.warn({ sagaId: row.id }, 'saga lease lost; another instance drives it now');
      const current = await this.log.read(row.id);
      if (!current) throw notFound(`saga ${row.id}`);
      return outcomeOf(current);
    } finally {
      heartbeat.stop();
    }
  }

  private async advance(drive: Drive): Promise<void> {
    const stepCount = drive.definition.steps.length;
    for (;;) {
      const { row } = drive;
      assert(row.currentStep >= -1 && row.currentStep <= stepCount, `current_step ${row.currentStep} is within -1..${stepCount}`);
      switch (row.status) {
        case 'RUNNING':
          if (row.currentStep === stepCount) await settle(this.deps, drive, 'COMPLETED');
          else await this.inStepSpan(drive, row.currentStep, 'run', () => this.runStep(drive, row.currentStep));
          break;
        case 'WAITING':
          // Just paused (lease given up): done for now. Claimed back: its signal came or its deadline passed.
          if (row.leaseOwner !== this.log.owner) return;
          await this.endWait(drive);
          break;
        case 'COMPENSATING':
          if (row.currentStep === -1) await settle(this.deps, drive, 'COMPENSATED');
          else await this.inStepSpan(drive, row.currentStep, 'compensate', () => compensateStep(this.deps, drive, row.currentStep));
          break;
        case 'COMPLETED':
        case 'COMPENSATED':
        case 'FAILED':
          await finish(this.deps, drive);
          return;
      }
    }
  }

  /** A span per step run or compensation (`saga checkout reserve`), under the saga's span. */
  private inStepSpan(drive: Drive, index: number, phase: 'run' | 'compensate', work: () => Promise<void>): Promise<void> {
    if (!tracingActive()) return work();
    const step = stepAt(drive, index).name;
    const name = phase === 'run' ? `saga ${drive.definition.name} ${step}` : `saga ${drive.definition.name} compensate ${step}`;
    return inSpan(name, { attributes: { [SAGA_SPAN_ATTRIBUTES.sagaId]: drive.row.id, [SAGA_SPAN_ATTRIBUTES.step]: step, [SAGA_SPAN_ATTRIBUTES.phase]: phase } }, work);
  }

  // ---------------------------------------------------------------------------------------------
  // Running forward

  private async runStep(drive: Drive, index: number): Promise<void> {
    const step = stepAt(drive, index);
    const logging = step.log ?? 'bracketed';
    const policy = retryPolicy(DEFAULT_RUN_RETRY, step.retry);
    // A bracketed step with no log row yet cannot have one (see Drive.fresh); a replayed step has
    // a row only if it once waited, which its signal (delivered before the saga runs again) tells.
    const mayHaveRow = logging === 'bracketed' ? !drive.fresh || drive.written.has(`${step.name}:run`) : Object.hasOwn(drive.row.signals, step.name);
    const logged = mayHaveRow ? await this.log.readStep(drive.row.id, step.name, 'run') : undefined;
    assert(logged?.status !== 'DONE', 'a DONE step has advanced current_step in the same transaction');
    // A step that returned ctx.wait and has its signal now turns the signal into its result.
    const signalled = logged?.status === 'WAITING';
    assert(!signalled || Object.hasOwn(drive.row.signals, step.name), 'a RUNNING saga at a waiting step has its signal');
    let attempt = logging === 'bracketed' ? (logged?.attempts ?? 0) : 0;
    // Failures that count against policy.attempts: unclassified ones (and crashes mid-step), never transient ones.
    let failures = attempt;
    const transient = transientRetries(this.deps, step);
    let lastError = logged?.error ?? 'no error recorded';
    for (;;) {
      if (failures >= policy.attempts) {
        await this.failRun(drive, index, { kind: 'error', step: step.name, message: `gave up after ${failures} attempts: ${lastError}` });
        return;
      }
      attempt += 1;
      const entry = { name: step.name, phase: 'run' as const, status: signalled ? ('WAITING' as const) : ('STARTED' as const), attempt };
      if (logging === 'bracketed') {
        drive.written.add(`${step.name}:run`);
        // The log counts tries that count (failures + this one), not transient retries: a saga parked
        // after many of those must not find its attempts spent when recovery resumes it.
        await this.log.write(drive, { step: this.startedStatement(drive, step, index, failures + 1, signalled), entry });
      } else {
        this.log.observe(drive.row, false, entry);
      }
      let produced: unknown;
      try {
        if (logging === 'local' || logging === 'fused') {
          await this.runLocal(drive, index, step, attempt);
          return;
        }
        produced = signalled ? await this.callOnSignal(drive, step, attempt, logged?.result) : await step.run(stepContext(drive, step, attempt));
        assert(!(produced instanceof FusedWrite), `only a fused step answers ctx.fuse(...) (${step.name})`);
        if (!(produced instanceof WaitRequest)) produced = toJson(produced);
      } catch (err) {
        if (err instanceof SagaLeaseLost) throw err;
        if (err instanceof SagaAbort) {
          await this.failRun(drive, index, { kind: 'aborted', step: step.name, reason: err.reason, ...(err.data === undefined ? {} : { data: toJson(err.data) }) });
          return;
        }
        lastError = errorMessage(err);
        let delay: number;
        if (isTransientFault(err)) {
          const next = transient.nextDelay();
          if (next === undefined) throw new SagaParked(drive.row.id, step.name, 'run', err);
          this.logger?.info({ sagaId: drive.row.id, step: step.name, attempt, err }, 'saga step met a transient fault; retrying');
          delay = next;
        } else {
          failures += 1;
          this.logger?.warn({ sagaId: drive.row.id, step: step.name, attempt, err }, 'saga step failed');
          if (failures >= policy.attempts) continue;
          delay = backoffDelay(policy, failures, this.deps.retryTiming?.random);
        }
        const retrying = { name: step.name, phase: 'run' as const, status: 'RETRYING' as const, attempt };
        if (logging === 'bracketed') {
          await this.log.write(drive, {
            step: sql`update ${this.log.steps} set error = ${lastError} where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'run' and ${FENCED}`,
            entry: retrying,
          });
        } else {
          this.log.observe(drive.row, false, retrying);
        }
        await this.sleep(delay);
        continue;
      }
      if (produced instanceof WaitRequest) {
        if (signalled) {
          await this.failRun(drive, index, { kind: 'error', step: step.name, message: 'onSignal may not wait again' });
          return;
        }
        await this.pause(drive, index, produced);
        return;
      }
      const state = withResult(drive.row.state, step.name, produced);
      const done = { name: step.name, phase: 'run' as const, status: 'DONE' as const, attempt };
      if (logging === 'replayed') {
        // Nothing written: the next checkpoint records it; a crash before that replays the step.
        drive.row = { ...drive.row, currentStep: index + 1, state };
        this.log.observe(drive.row, false, done);
        return;
      }
      await this.log.write(drive, {
        currentStep: index + 1,
        state,
        step: sql`update ${this.log.steps} set status = 'DONE', result = ${jsonb(produced)}, error = null, finished_at = ${ts(this.clock.now())}
                  where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'run' and ${FENCED}`,
        entry: done,
      });
      return;
    }
  }

  /** STARTED(k) of a bracketed step (or, for a signalled one, its next attempt). */
  private startedStatement(drive: Drive, step: Step, index: number, attempt: number, signalled: boolean) {
    return signalled
      ? sql`update ${this.log.steps} set attempts = ${attempt}, error = null
            where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'run' and ${FENCED}`
      : sql`insert into ${this.log.steps} (saga_id, step, phase, position, status, attempts, started_at)
            select ${drive.row.id}::uuid, ${step.name}::text, 'run', ${index}::int, 'STARTED', ${attempt}::int, ${ts(this.clock.now())} from fenced
            on conflict (saga_id, step, phase) do update
              set status = 'STARTED', attempts = excluded.attempts, error = null, result = null,
                  started_at = excluded.started_at, finished_at = null`;
  }

  /**
   * A local or fused step: its writes and the checkpoint that records it commit together — in
   * one transaction (local) or as parts of the checkpoint's one statement (fused). The last step
   * of a saga without onFinished also completes and finishes it in that commit.
   */
  private async runLocal(drive: Drive, index: number, step: Step, attempt: number): Promise<void> {
    const next = index + 1;
    const completes = next === drive.definition.steps.length;
    const finishes = completes && drive.definition.onFinished === undefined;
    const checkpoint = (result: unknown) => ({
      currentStep: next,
      state: withResult(drive.row.state, step.name, toJson(result)),
      ...(completes ? { status: 'COMPLETED' as const } : {}),
      ...(finishes ? { finished: true, release: true } : {}),
    });
    const done = { name: step.name, phase: 'run' as const, status: 'DONE' as const, attempt };
    if (step.log === 'fused') {
      const produced = await step.run(stepContext(drive, step, attempt));
      assert(produced instanceof FusedWrite, `fused step ${step.name} answers ctx.fuse(...)`);
      await this.log.write(drive, { ...checkpoint(produced.result), fused: produced.writes, entry: done });
    } else {
      const row = await this.log.storage.transaction(async (tx) => {
        const produced = await step.run(stepContext(drive, step, attempt, tx));
        assert(!(produced instanceof WaitRequest) && !(produced instanceof FusedWrite), `local step ${step.name} neither waits nor fuses`);
        return this.log.write(drive, checkpoint(produced), tx);
      });
      this.log.committed(drive, row, done);
    }
    if (completes) this.logger?.info({ sagaId: drive.row.id, saga: drive.row.name, status: 'COMPLETED' }, 'saga settled');
  }

  private callOnSignal(drive: Drive, step: Step, attempt: number, waitData: unknown): Promise<unknown> {
    const signal = drive.row.signals[step.name];
    if (!step.onSignal) return Promise.resolve(signal);
    const ctx: SignalContext<unknown> = { ...stepContext(drive, step, attempt), signal, waitData };
    return step.onSignal(ctx);
  }

  /**
   * Ends the forward run at step `index`. An abort compensates the steps before it (the aborting
   * step holds nothing); an error or a timeout compensates it too (it may have taken effect).
   */
  private async failRun(drive: Drive, index: number, failure: SagaFailure): Promise<void> {
    const step = stepAt(drive, index);
    const from = failure.kind === 'aborted' ? index - 1 : index;
    const state: SagaState = { ...drive.row.state, failure };
    delete state.waitingFor;
    const error = failure.kind === 'aborted' ? `aborted: ${failure.reason}` : failure.kind === 'timeout' ? 'timed out waiting for a signal' : failure.message;
    const data = failure.kind === 'aborted' ? sql`, result = ${jsonb(failure.data ?? null)}` : sql``;
    // Only a step that has a log row (bracketed, or one that waited) gets it marked; the failure itself is in the state.
    await this.log.write(drive, {
      status: 'COMPENSATING',
      currentStep: from,
      state,
      waitUntil: null,
      step: sql`update ${this.log.steps} set status = 'FAILED', error = ${error}, finished_at = ${ts(this.clock.now())} ${data}
                where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'run' and ${FENCED}`,
      entry: { name: step.name, phase: 'run', status: 'FAILED', attempt: 0 },
    });
    this.logger?.info({ sagaId: drive.row.id, saga: drive.row.name, failure }, 'saga compensating');
  }

  /**
   * The step returned ctx.wait: give the lease up and wait for `resume`, unless its signal came
   * first (checked under the saga's row lock, which `resume` takes too, so neither side misses
   * the other). The step row is written whatever the step's logging: it holds the wait data.
   */
  private async pause(drive: Drive, index: number, wait: WaitRequest): Promise<void> {
    const step = stepAt(drive, index);
    const now = this.clock.now();
    if (wait.until !== undefined) {
      assert(wait.until.getTime() - now.getTime() <= SAGA_LIMITS.maxWaitMs, `a wait ends within ${SAGA_LIMITS.maxWaitMs} ms`);
    }
    const { sagas, steps, storage } = this.log;
    const row = await storage.transaction(async (tx: Tx) => {
      const [locked] = await storage.query<Record<string, unknown>>(sql`select lease_owner, signals from ${sagas} where id = ${drive.row.id}::uuid for update`, tx);
      if (!locked || locked.lease_owner !== this.log.owner) throw new SagaLeaseLost(drive.row.id, this.log.owner);
      const signalled = Object.hasOwn((locked.signals ?? {}) as Record<string, unknown>, step.name);
      await storage.query(
        sql`insert into ${steps} (saga_id, step, phase, position, status, attempts, result, started_at)
            values (${drive.row.id}::uuid, ${step.name}, 'run', ${index}::int, 'WAITING', 0, ${jsonb(wait.data ?? null)}, ${ts(now)})
            on conflict (saga_id, step, phase) do update set status = 'WAITING', result = excluded.result, attempts = 0, error = null`,
        tx,
      );
      if (signalled) return this.log.write(drive, {}, tx);
      return this.log.write(drive, { status: 'WAITING', waitUntil: wait.until ?? null, state: { ...drive.row.state, waitingFor: step.name }, release: true }, tx);
    });
    this.log.committed(drive, row, { name: step.name, phase: 'run', status: 'WAITING', attempt: 0 });
  }

  /** A WAITING saga claimed back by recovery: its signal won the race, or its deadline passed. */
  private async endWait(drive: Drive): Promise<void> {
    const index = drive.row.currentStep;
    const step = stepAt(drive, index);
    assert(drive.row.state.waitingFor === step.name, 'the waiting step is the current step');
    if (Object.hasOwn(drive.row.signals, step.name)) {
      const state: SagaState = { ...drive.row.state };
      delete state.waitingFor;
      await this.log.write(drive, { status: 'RUNNING', waitUntil: null, state });
      return;
    }
    const deadline = drive.row.waitUntil;
    assert(deadline !== null && deadline.getTime() <= this.clock.now().getTime(), 'a waiting saga is only claimed past its deadline');
    this.logger?.info({ sagaId: drive.row.id, step: step.name }, 'saga wait timed out');
    await this.failRun(drive, index, { kind: 'timeout', step: step.name });
  }
}

function withResult(state: SagaState, step: string, result: unknown): SagaState {
  return { ...state, results: { ...state.results, [step]: result } };
}
