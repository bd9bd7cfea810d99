import type { SQL } from 'drizzle-orm';
import type { Tx } from '../storage/storage.js';

/**
 * What a saga is: a named list of steps, each with its compensation beside it (Medusa style).
 * The orchestrator (orchestrator.ts) makes it durable; this file has no I/O.
 *
 * The contract every step must keep, because the orchestrator guarantees *at least once*:
 * - `run` may be called again for the same saga after a crash (a bracketed step whose STARTED was
 *   logged and DONE was not; a replayed step after the last checkpoint) or after a technical
 *   error. Its side effect must be idempotent on `ctx.idempotencyKey` (`${sagaId}:${stepName}`):
 *   pass the key to the service you call, or guard your own insert with it. A step whose result
 *   was checkpointed is never run again; later steps read its stored result.
 * - `compensate` undoes `run`, is idempotent on the same key, and must also be safe when `run`
 *   never took effect (a technical failure is ambiguous: the call may or may not have landed, so
 *   the failed step is compensated too). It is not called for a step that ended the saga with
 *   `ctx.abort(...)`: aborting says "nothing of mine is held".
 * - Results, inputs, signals and abort data are stored as JSON: give plain data.
 */

export const SAGA_STATUSES = ['RUNNING', 'WAITING', 'COMPENSATING', 'COMPLETED', 'COMPENSATED', 'FAILED'] as const;
export type SagaStatus = (typeof SAGA_STATUSES)[number];

export type StepPhase = 'run' | 'compensate';

/**
 * How a step is logged — the price of its durability, in commits:
 * - `bracketed` (the default): STARTED is committed before `run`, DONE with the result after; a
 *   DONE step is never run again. Two commits per step; for effects that cannot be asked twice.
 * - `replayed`: nothing is written around it. Its effect is idempotent on the saga (it passes
 *   `ctx.idempotencyKey` or the saga id to the service it calls, which answers "already done"),
 *   so after a crash recovery simply runs it again from the last checkpoint. Its result is kept
 *   in the drive and written by the next checkpoint; its compensation is replayed the same way.
 * - `local`: `run` gets the transaction of the checkpoint that records its result (`ctx.tx`), so
 *   the service's own rows commit together with the log, exactly once. It may not wait.
 * - `fused`: like `local`, but cheaper: `run` (which may read) returns `ctx.fuse(result, writes)`,
 *   and its writes become parts of the checkpoint's ONE statement — no transaction, no round trip
 *   of their own. The parts apply only if the lease fence matched; the checkpoint only if the
 *   step's `precondition` still holds. The compensations of replayed, local and fused steps are
 *   replayed like replayed steps.
 */
export const STEP_LOGGING = ['bracketed', 'replayed', 'local', 'fused'] as const;
export type StepLogging = (typeof STEP_LOGGING)[number];
export type StepStatus = 'STARTED' | 'WAITING' | 'DONE' | 'FAILED';

/** Bounded retries of technical errors, with exponential backoff and jitter. */
export interface SagaRetryPolicy {
  /** Tries in all, counting the first; crashes mid-step count too. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RUN_RETRY: SagaRetryPolicy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 2_000 };
/** Compensations try harder: giving up leaves the saga FAILED for an operator. */
export const DEFAULT_COMPENSATE_RETRY: SagaRetryPolicy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 5_000 };

/**
 * How a step rides out transient faults (resilience/faults.ts: a database out of connections, a
 * deadlock, a peer's 503, ...): they are retried with backoff and jitter, without counting
 * against `SagaRetryPolicy.attempts`, until `deadlineMs` after the step's first one; then the saga
 * is parked — left unfinished at the step it reached, its lease set to end `parkMs` from now — and
 * recovery drives it on later. A transient fault therefore never ends a saga, and never decides
 * an order.
 */
export interface TransientRetryPolicy {
  /** How long one step (run or compensation) keeps retrying transient faults in one drive, in ms. */
  readonly deadlineMs: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** How long a parked saga rests before recovery may claim it again, in ms. */
  readonly parkMs: number;
}

/**
 * 10 s: longer than a pool's connection wait (5 s) and a burst of "too many clients", shorter than
 * the gateway's patience with the shopper's poll; then 2 s of rest so a database that is short of
 * connections gets them back before the saga asks again.
 */
export const DEFAULT_TRANSIENT_RETRY: TransientRetryPolicy = { deadlineMs: 10_000, baseDelayMs: 50, maxDelayMs: 1_000, parkMs: 2_000 };

export const SAGA_LIMITS = {
  steps: 64,
  nameChars: 100,
  /** A wait longer than this is a bug, not a business rule. */
  maxWaitMs: 30 * 24 * 60 * 60 * 1000,
} as const;

/** Declares a step with its result type, so `ctx.result(step)` and its compensation are typed. */
export function defineStep<I, R>(step: SagaStep<I, R>): SagaStep<I, R> {
  return step;
}

/** Why a saga did not complete. */
export type SagaFailure =
  | { kind: 'aborted'; step: string; reason: string; data?: unknown }
  | { kind: 'error'; step: string; message: string }
  | { kind: 'timeout'; step: string };

/** What the caller of start/resume/outcome gets back. */
export interface SagaOutcome<I = unknown> {
  sagaId: string;
  name: string;
  status: SagaStatus;
  input: I;
  /** Results of the completed steps, by step name. */
  results: Record<string, unknown>;
  failure?: SagaFailure;
  /** Set when a compensation gave up (status FAILED): what needs an operator. */
  compensationError?: { step: string; message: string };
  /** WAITING: the step waiting for `resume(sagaId, step, signal)`, and its deadline if any. */
  waitingFor?: string;
  waitUntil?: Date;
  /** Terminal and the definition's onFinished has run (always true without onFinished). */
  finished: boolean;
}

interface BaseContext<I> {
  readonly sagaId: string;
  readonly sagaName: string;
  readonly step: string;
  readonly input: I;
  /** `${sagaId}:${step}`: the same on every retry and after every crash. */
  readonly idempotencyKey: string;
  /** 1 on the first try of this (step, phase). */
  readonly attempt: number;
  /** Results of the steps completed before this one, by step name. */
  readonly results: Readonly<Record<string, unknown>>;
  /**
   * The result of an earlier step, typed by the step itself (`ctx.result(authorizePayment)`), or
   * by name; throws if that step has not completed.
   */
  result<T>(step: StepRef<T> | string): T;
}

/** What `ctx.result` needs of a step: its name, and its result type through `run`. */
export interface StepRef<T> {
  readonly name: string;
  run(ctx: never, ...rest: never[]): Promise<T | WaitRequest | FusedWrite<T>>;
}

export interface StepContext<I> extends BaseContext<I> {
  /** A `local` step's transaction: the checkpoint that records its result commits in it. Undefined for other steps. */
  readonly tx: Tx | undefined;
  /** A `fused` step's answer: its result, and the writes that commit in the statement that records it. */
  fuse<R>(result: R, writes: FusedWrites): FusedWrite<R>;
  /** Ends the saga as a business failure: earlier steps are compensated in reverse. */
  abort(reason: string, data?: unknown): never;
  /**
   * Pauses the saga (WAITING) until `orchestrator.resume(sagaId, step, signal)`. Return it:
   * `return ctx.wait({ until, data })`. `data` is kept for onSignal and compensate; past `until`
   * recovery compensates the saga, this step included.
   */
  wait(options?: { until?: Date; data?: unknown }): WaitRequest;
}

export interface SignalContext<I> extends StepContext<I> {
  /** What `resume` delivered. */
  readonly signal: unknown;
  /** What this step passed to `wait`. */
  readonly waitData: unknown;
}

export interface CompensationContext<I, R = unknown> extends BaseContext<I> {
  /**
   * What this step's run produced, as far as the log knows: its result if it completed, its wait
   * data if it was waiting, else undefined (a replayed step's result may be unknown after a crash:
   * compensations must not depend on it).
   */
  readonly stepResult: R | undefined;
  readonly failure: SagaFailure;
}

export interface FinishContext<I> {
  readonly sagaId: string;
  readonly sagaName: string;
  readonly input: I;
  /** `${sagaId}:finished` */
  readonly idempotencyKey: string;
}

export interface SagaStep<I, R = unknown> {
  readonly name: string;
  /** How the step is logged (default `bracketed`); see `StepLogging`. */
  readonly log?: StepLogging;
  /** Does the work and returns its result (JSON); may `ctx.abort(...)`, `return ctx.wait(...)`, or (fused) `return ctx.fuse(...)`. */
  run(ctx: StepContext<I>): Promise<R | WaitRequest | FusedWrite<R>>;
  /** Undoes `run`; see the contract at the top of this file. */
  compensate?(ctx: CompensationContext<I, R>): Promise<void>;
  /** Turns the signal of a waiting step into its result (or aborts). Without it the signal is the result. */
  onSignal?(ctx: SignalContext<I>): Promise<unknown>;
  readonly retry?: Partial<SagaRetryPolicy>;
  readonly compensateRetry?: Partial<SagaRetryPolicy>;
  /** How this step's run and compensation ride out transient faults (default DEFAULT_TRANSIENT_RETRY). */
  readonly transient?: Partial<TransientRetryPolicy>;
}

export interface SagaDefinition<I> {
  readonly name: string;
  readonly steps: readonly SagaStep<I>[];
  /**
   * Runs once the saga is terminal (COMPLETED, COMPENSATED or FAILED) so the service can react
   * also when recovery, not a request, finished the saga. At least once: re-run by recovery until
   * it succeeds, so it must be idempotent.
   */
  onFinished?(ctx: FinishContext<I>, outcome: SagaOutcome<I>): Promise<void>;
  readonly finishRetry?: Partial<SagaRetryPolicy>;
}

/** Thrown by `ctx.abort`; the orchestrator turns it into compensation, never a retry. */
export class SagaAbort extends Error {
  constructor(
    readonly reason: string,
    readonly data?: unknown,
  ) {
    super(`saga aborted: ${reason}`);
    this.name = 'SagaAbort';
  }
}

/** What a `fused` step writes with its checkpoint (see `StepLogging`). */
export interface FusedWrites {
  /**
   * Common table expressions, comma-separated (`name as (update ...), other as (insert ...)`),
   * placed after the checkpoint's own in its one statement. Each must apply only where `fenced`
   * holds (add it to its WHERE): the lease fence matched and the checkpoint is being written.
   */
  parts(fenced: SQL): SQL;
  /** Checked in the checkpoint's fence: when false nothing is written and the step is retried (a concurrent change). */
  precondition?: SQL;
}

/** Returned (not thrown) by a `fused` step: `ctx.fuse(result, writes)`. */
export class FusedWrite<R> {
  constructor(
    readonly result: R,
    readonly writes: FusedWrites,
  ) {}
}

/** Returned (not thrown) by a step that must wait for an outside event. */
export class WaitRequest {
  constructor(
    readonly until: Date | undefined,
    readonly data: unknown,
  ) {}
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;

export function defineSaga<I>(
  name: string,
  steps: readonly SagaStep<I>[],
  options: { onFinished?: SagaDefinition<I>['onFinished']; finishRetry?: Partial<SagaRetryPolicy> } = {},
): SagaDefinition<I> {
  assertName('saga', name);
  if (steps.length === 0 || steps.length > SAGA_LIMITS.steps) {
    throw new Error(`saga ${name}: needs 1..${SAGA_LIMITS.steps} steps, got ${steps.length}`);
  }
  const seen = new Set<string>();
  for (const step of steps) {
    assertName(`step of saga ${name}`, step.name);
    if (step.log !== undefined && !STEP_LOGGING.includes(step.log)) throw new Error(`saga ${name}: step ${step.name} has unknown logging "${String(step.log)}"`);
    if ((step.log === 'local' || step.log === 'fused') && step.onSignal) throw new Error(`saga ${name}: ${step.log} step ${step.name} cannot wait for a signal`);
    if (seen.has(step.name)) throw new Error(`saga ${name}: step name "${step.name}" is used twice`);
    seen.add(step.name);
  }
  const definition: SagaDefinition<I> = { name, steps: [...steps] };
  return Object.freeze({ ...definition, ...options });
}

function assertName(what: string, name: string): void {
  if (name.length > SAGA_LIMITS.nameChars || !NAME.test(name)) {
    throw new Error(`${what}: name must match ${NAME.source} (at most ${SAGA_LIMITS.nameChars} chars), got "${name}"`);
  }
}

export function retryPolicy(defaults: SagaRetryPolicy, override: Partial<SagaRetryPolicy> | undefined): SagaRetryPolicy {
  const policy = { ...defaults, ...override };
  if (!Number.isSafeInteger(policy.attempts) || policy.attempts < 1) throw new Error(`retry attempts must be >= 1, got ${policy.attempts}`);
  if (policy.baseDelayMs < 0 || policy.maxDelayMs < policy.baseDelayMs) throw new Error('retry delays must satisfy 0 <= base <= max');
  return policy;
}

export function transientPolicy(override: Partial<TransientRetryPolicy> | undefined): TransientRetryPolicy {
  const policy = { ...DEFAULT_TRANSIENT_RETRY, ...override };
  if (!(policy.deadlineMs >= 0) || !(policy.parkMs >= 0)) throw new Error('transient deadlineMs and parkMs must be >= 0');
  if (policy.baseDelayMs < 0 || policy.maxDelayMs < policy.baseDelayMs) throw new Error('transient retry delays must satisfy 0 <= base <= max');
  return policy;
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retries spread out. */
export function backoffDelay(policy: Pick<SagaRetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, attempt: number, random: () => number = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return exponential / 2 + random() * (exponential / 2);
}
