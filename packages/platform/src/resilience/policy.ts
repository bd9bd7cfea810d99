import {
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  bulkhead,
  handleWhen,
  isBulkheadRejectedError,
  retry,
  timeout,
  type BulkheadPolicy,
  type Policy,
  type RetryPolicy,
  type TimeoutPolicy,
} from 'cockatiel';
import { AppError } from '@agora/kernel';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { InstanceBreaker, type BreakerState } from './breaker.js';
import { resolveResilienceSettings, type ResilienceSettings } from './config.js';
import type { ServiceEndpoint } from './endpoints.js';
import { classifyFailure, countsAgainstInstance, isRetryableFailure, isTimeoutError, isTransientStatus, type FailureKind } from './failures.js';
import { serviceCallMetrics, type ServiceCallMetrics } from './metrics.js';

/** What the policy needs to know of an answer: its status (502/503/504 are transient), and whether it says when to come back. */
export interface StatusAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
}

/** One call, described to the policy; the policy decides where each attempt goes and whether to retry. */
export interface ResilientCall<R extends StatusAnswer> {
  /** May the request be sent more than once (GET, or a write carrying an idempotency key)? */
  readonly idempotent: boolean;
  /** Reads get the read timeout, everything else the write timeout. */
  readonly read: boolean;
  /** Instances the call may go to; asked before every attempt. */
  endpoints(): readonly ServiceEndpoint[];
  /**
   * Chooses one of `candidates`: instances whose breaker admits calls, without the ones this call
   * already failed on unless no other remains.
   */
  pick(candidates: readonly ServiceEndpoint[]): ServiceEndpoint | undefined;
  /** Sends one attempt. `signal` aborts when the attempt times out: pass it to the HTTP client. */
  send(endpoint: ServiceEndpoint, signal: AbortSignal): Promise<R>;
}

export interface ResiliencePolicyOptions {
  metrics?: Metrics;
  logger?: Logger;
}

/** An attempt's answer, with the policy's verdict on it for cockatiel's retry filter. */
interface AttemptAnswer<R> {
  readonly answer: R;
  readonly retry: boolean;
}

/** A failed attempt, classified where the call's idempotency is known. */
class AttemptFailure extends Error {
  constructor(
    readonly endpoint: ServiceEndpoint,
    readonly kind: FailureKind,
    readonly retryable: boolean,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'AttemptFailure';
  }
}

/**
 * A timeout of an instance that answered other calls while this one waited: it is alive and
 * queueing (busy), not sick. Retried like any timeout, but never held against its breaker.
 */
class BusyTimeout extends TaskCancelledError {
  readonly busy = true;
}

/**
 * Whether a failed attempt or an answer counts against the instance's breaker. Breakers are for
 * sick instances, not busy ones (docs/operations.md, "Breakers"):
 * - an answer 502/503/504 counts, unless it carries Retry-After: that is the instance's own
 *   admission control or bulkhead shedding load, or a transient fault it classified (its database
 *   short of connections) — it answered at once and says when to come back;
 * - a transport failure counts (refused, reset), and so does a timeout — unless the instance
 *   answered another call while this one waited (BusyTimeout).
 */
export function countsAgainstBreaker(outcome: { error: unknown } | { answer: StatusAnswer }): boolean {
  if ('answer' in outcome) return isTransientStatus(outcome.answer.status) && !isLoadShed(outcome.answer);
  if (outcome.error instanceof BusyTimeout) return false;
  return countsAgainstInstance(classifyFailure(outcome.error));
}

/**
 * A 503 that says when to come back (Retry-After): the instance shed the request at once — its
 * admission control, its bulkhead, or a transient fault it classified. Busy, not sick: neither
 * its breaker nor outlier ejection holds it against the instance.
 */
export function isLoadShed(answer: StatusAnswer): boolean {
  const value = answer.headers?.['retry-after'];
  return answer.status === 503 && value !== undefined && value !== '';
}

const KIND_TEXT: Record<FailureKind, string> = {
  'not-sent': 'could not connect',
  'maybe-sent': 'connection lost',
  timeout: 'timed out',
  other: 'failed',
};

function hasStatus(value: unknown): value is StatusAnswer {
  return typeof value === 'object' && value !== null && 'status' in value && typeof value.status === 'number';
}

function isRetryAnswer(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'retry' in value && value.retry === true;
}

/**
 * The resilience of calls to one service, on cockatiel:
 *
 *   bulkhead (per service) → retry with backoff + jitter → pick an instance → circuit breaker (per
 *   instance) → timeout (per attempt, aggressive, aborting the request)
 *
 * Retries happen only when they are safe: a failure before anything was sent (connection refused,
 * open breaker) always; a lost connection, a timeout or a 502/503/504 answer only for idempotent
 * calls; a 4xx never. Each retry goes to an instance the call has not failed on, when one is left.
 * An open breaker takes its instance out of the candidates until its cool-down has passed; then one
 * call probes it. Failures throw AppError UNAVAILABLE naming the service; answers (even 5xx) return.
 */
export class ResiliencePolicy {
  readonly settings: ResilienceSettings;
  private readonly bulkhead: BulkheadPolicy;
  private readonly retry: RetryPolicy;
  private readonly readTimeout: TimeoutPolicy;
  private readonly writeTimeout: TimeoutPolicy;
  private readonly breakerFilter: Policy;
  private readonly breakers = new Map<string, InstanceBreaker>();
  /** When each instance last answered anything (any status): tells a busy instance from a sick one. */
  private readonly answeredAt = new Map<string, number>();
  private readonly metrics: ServiceCallMetrics | undefined;
  private readonly logger: Logger | undefined;

  constructor(
    readonly service: string,
    settings: Partial<ResilienceSettings> = {},
    options: ResiliencePolicyOptions = {},
  ) {
    this.settings = resolveResilienceSettings(settings);
    this.metrics = options.metrics ? serviceCallMetrics(options.metrics) : undefined;
    this.logger = options.logger;
    this.bulkhead = bulkhead(this.settings.bulkheadConcurrency, this.settings.bulkheadQueue);
    this.retry = retry(
      handleWhen((error) => error instanceof AttemptFailure && error.retryable).orWhenResult(isRetryAnswer),
      {
        maxAttempts: this.settings.retries,
        backoff: new ExponentialBackoff({ initialDelay: this.settings.retryBaseDelayMs, maxDelay: this.settings.retryMaxDelayMs }),
      },
    );
    this.retry.onRetry(() => this.metrics?.retries.inc({ service }));
    this.readTimeout = timeout(this.settings.readTimeoutMs, TimeoutStrategy.Aggressive);
    this.writeTimeout = timeout(this.settings.writeTimeoutMs, TimeoutStrategy.Aggressive);
    this.breakerFilter = handleWhen((error) => countsAgainstBreaker({ error })).orWhenResult((value) => hasStatus(value) && countsAgainstBreaker({ answer: value }));
  }

  async execute<R extends StatusAnswer>(call: ResilientCall<R>): Promise<R> {
    const failedOn = new Set<string>();
    const deadline = call.read ? this.readTimeout : this.writeTimeout;
    const deadlineMs = call.read ? this.settings.readTimeoutMs : this.settings.writeTimeoutMs;
    try {
      const result = await this.bulkhead.execute(() =>
        this.retry.execute(async (): Promise<AttemptAnswer<R>> => {
          const endpoint = this.choose(call, failedOn);
          const breaker = this.breakerFor(endpoint);
          try {
            const answer = await breaker.policy.execute(async () => {
              const startedAt = Date.now();
              try {
                return await deadline.execute(({ signal }) =>
                  call.send(endpoint, signal).then(
                    (answered) => {
                      this.answeredAt.set(endpoint.id, Date.now());
                      return answered;
                    },
                    (error: unknown) => {
                      // A sender that rejects on abort can beat cockatiel's own timeout error to the
                      // race; an abort while the attempt is still running can only be the deadline.
                      if (signal.aborted) throw new TaskCancelledError(`Operation timed out after ${deadlineMs}ms`);
                      throw error;
                    },
                  ),
                );
              } catch (error) {
                if (isTimeoutError(error) && (this.answeredAt.get(endpoint.id) ?? 0) > startedAt) {
                  throw new BusyTimeout(`Operation timed out after ${deadlineMs}ms while ${endpoint.id} answered other calls (busy)`);
                }
                throw error;
              }
            });
            const transient = isTransientStatus(answer.status);
            if (transient) failedOn.add(endpoint.id);
            return { answer, retry: transient && call.idempotent };
          } catch (error) {
            failedOn.add(endpoint.id);
            const kind = classifyFailure(error);
            throw new AttemptFailure(endpoint, kind, isRetryableFailure(kind, call.idempotent), error);
          }
        }),
      );
      return result.answer;
    } catch (error) {
      throw this.toAppError(error);
    }
  }

  /** Breaker of every instance this policy has called, for the admin page. */
  breakerStates(): BreakerState[] {
    return [...this.breakers.values()].map((breaker) => ({
      service: this.service,
      instanceId: breaker.endpoint.id,
      url: breaker.endpoint.url,
      state: breaker.state,
      consecutiveFailures: breaker.consecutiveFailures,
    }));
  }

  /** Drops the breakers of instances that are gone (discovery no longer lists them). */
  retain(instanceIds: ReadonlySet<string>): void {
    for (const id of this.breakers.keys()) if (!instanceIds.has(id)) this.breakers.delete(id);
    for (const id of this.answeredAt.keys()) if (!instanceIds.has(id)) this.answeredAt.delete(id);
  }

  private choose<R extends StatusAnswer>(call: ResilientCall<R>, failedOn: ReadonlySet<string>): ServiceEndpoint {
    const all = call.endpoints();
    if (all.length === 0) {
      throw new AppError('UNAVAILABLE', `no healthy instance of ${this.service}: none is registered`, {
        retryAfterSeconds: this.settings.bulkheadRetryAfterSeconds,
      });
    }
    const admitted = all.filter((endpoint) => this.breakerFor(endpoint).admits());
    if (admitted.length === 0) {
      const waitMs = Math.min(...all.map((endpoint) => this.breakerFor(endpoint).msUntilProbe()));
      throw new AppError('UNAVAILABLE', `no healthy instance of ${this.service}: the circuit breakers of all ${all.length} are open`, {
        retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
      });
    }
    const untried = admitted.filter((endpoint) => !failedOn.has(endpoint.id));
    const picked = call.pick(untried.length > 0 ? untried : admitted);
    if (!picked) throw new AppError('UNAVAILABLE', `no healthy instance of ${this.service}: the balancer accepted none of ${admitted.length}`);
    return picked;
  }

  private breakerFor(endpoint: ServiceEndpoint): InstanceBreaker {
    const known = this.breakers.get(endpoint.id);
    if (known && known.endpoint.url === endpoint.url) return known;
    // A new instance, or the same id at a new address (a restart): a fresh breaker.
    const breaker = new InstanceBreaker(endpoint, this.breakerFilter, this.settings.breakerFailures, this.settings.breakerHalfOpenAfterMs);
    breaker.policy.onBreak(() => {
      this.metrics?.breakerOpens.inc({ service: this.service });
      this.logger?.warn({ service: this.service, instance: endpoint.id, url: endpoint.url, failures: breaker.consecutiveFailures }, 'circuit breaker opened');
    });
    breaker.policy.onReset(() => this.logger?.info({ service: this.service, instance: endpoint.id, url: endpoint.url }, 'circuit breaker closed'));
    this.breakers.set(endpoint.id, breaker);
    return breaker;
  }

  private toAppError(error: unknown): AppError {
    if (error instanceof AppError) return error;
    if (isBulkheadRejectedError(error)) {
      return new AppError(
        'UNAVAILABLE',
        `${this.service} is at capacity here: ${this.settings.bulkheadConcurrency} calls running and ${this.settings.bulkheadQueue} waiting`,
        { retryAfterSeconds: this.settings.bulkheadRetryAfterSeconds, cause: error },
      );
    }
    if (error instanceof AttemptFailure) {
      if (error.kind === 'other' && error.cause instanceof AppError) return error.cause;
      return new AppError('UNAVAILABLE', `${this.service} ${KIND_TEXT[error.kind]} at ${error.endpoint.url}: ${error.message}`, { cause: error.cause });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new AppError('UNAVAILABLE', `${this.service} call failed: ${message}`, { cause: error });
  }
}
