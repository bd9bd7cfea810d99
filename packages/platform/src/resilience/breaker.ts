import { CircuitState, ConsecutiveBreaker, circuitBreaker, type CircuitBreakerPolicy, type Policy } from 'cockatiel';
import type { ServiceEndpoint } from './endpoints.js';

export type BreakerStateName = 'closed' | 'open' | 'half-open';

/** One row of the admin page's breaker table. */
export interface BreakerState {
  service: string;
  instanceId: string;
  url: string;
  state: BreakerStateName;
  consecutiveFailures: number;
}

/**
 * The circuit breaker of one instance: cockatiel's breaker with a consecutive-failure counter, plus
 * the bookkeeping cockatiel keeps private (when it opened) so the client can skip an open instance
 * instead of calling into it, and report it.
 *
 * States as reported: `open` while cooling down; `half-open` once the cool-down has passed (the
 * next call to it is the probe) and while that probe runs; `closed` again when the probe succeeds.
 */
export class InstanceBreaker {
  readonly policy: CircuitBreakerPolicy;
  private readonly counter: ConsecutiveBreaker;
  private openedAt = 0;
  private opens = 0;

  constructor(
    readonly endpoint: ServiceEndpoint,
    handled: Policy,
    threshold: number,
    private readonly halfOpenAfterMs: number,
  ) {
    this.counter = new ConsecutiveBreaker(threshold);
    this.policy = circuitBreaker(handled, { halfOpenAfter: halfOpenAfterMs, breaker: this.counter });
    this.policy.onBreak(() => {
      this.openedAt = Date.now();
      this.opens++;
    });
  }

  get state(): BreakerStateName {
    switch (this.policy.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      case CircuitState.Open:
        return this.coolingDown() ? 'open' : 'half-open';
      case CircuitState.Isolated:
        return 'open';
    }
  }

  /** Failures in a row since the last success (stays at the count that opened it while open). */
  get consecutiveFailures(): number {
    return this.counter.state;
  }

  /** How many times the breaker has opened. */
  get openCount(): number {
    return this.opens;
  }

  /**
   * Whether a call may go to this instance now: closed, or open with the cool-down over (that call
   * is the probe). Not while a probe is already running: one probe at a time.
   */
  admits(): boolean {
    const state = this.policy.state;
    if (state === CircuitState.Closed) return true;
    if (state === CircuitState.Open) return !this.coolingDown();
    return false;
  }

  /** Ms until an open breaker admits a probe (0 when it admits calls now). */
  msUntilProbe(): number {
    if (this.policy.state !== CircuitState.Open) return 0;
    return Math.max(0, this.openedAt + this.halfOpenAfterMs - Date.now());
  }

  private coolingDown(): boolean {
    // Date.now, not an injected clock: cockatiel times its own cool-down with Date.now.
    return Date.now() - this.openedAt < this.halfOpenAfterMs;
  }
}
