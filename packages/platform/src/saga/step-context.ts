import type { Tx } from '../storage/storage.js';
import { FusedWrite, SagaAbort, WaitRequest, type FusedWrites, type SagaStep, type StepContext, type StepRef } from './definition.js';
import type { Drive } from './log-writer.js';

/** The contexts a step's run, signal handler and compensation get (definition.ts describes them). */

type Step = SagaStep<unknown>;

export function baseContext(drive: Drive, step: Step, attempt: number) {
  const results = drive.row.state.results;
  return {
    sagaId: drive.row.id,
    sagaName: drive.row.name,
    step: step.name,
    input: drive.row.input,
    idempotencyKey: `${drive.row.id}:${step.name}`,
    attempt,
    results,
    result<T>(ref: StepRef<T> | string): T {
      const name = typeof ref === 'string' ? ref : ref.name;
      if (!Object.hasOwn(results, name)) throw new Error(`step "${name}" has no result (not completed before "${step.name}")`);
      return results[name] as T;
    },
  };
}

export function stepContext(drive: Drive, step: Step, attempt: number, tx?: Tx): StepContext<unknown> {
  return {
    ...baseContext(drive, step, attempt),
    tx,
    abort(reason: string, data?: unknown): never {
      throw new SagaAbort(reason, data);
    },
    wait(options: { until?: Date; data?: unknown } = {}): WaitRequest {
      return new WaitRequest(options.until, options.data);
    },
    fuse<R>(result: R, writes: FusedWrites): FusedWrite<R> {
      return new FusedWrite(result, writes);
    },
  };
}

export function stepAt(drive: Drive, index: number): Step {
  const step = drive.definition.steps[index];
  assert(step !== undefined, `saga ${drive.definition.name} has a step ${index}`);
  return step;
}

/** An invariant of the orchestrator itself (TigerBeetle style): failing one is a bug, never a business case. */
export function assert(condition: boolean, invariant: string): asserts condition {
  if (!condition) throw new Error(`saga invariant violated: ${invariant}`);
}
