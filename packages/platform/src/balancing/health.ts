import { systemClock, type Clock } from '@agora/kernel';
import type { Endpoint } from './endpoint.js';

/**
 * Outlier ejection, after Envoy's: an endpoint that fails N times in a row is taken out of
 * rotation for a cool-down, then let back in to prove itself.
 *
 * Why in the balancer when discovery already detects failures: discovery only knows whether a
 * process heartbeats. A process can heartbeat happily while every request to it fails (its
 * database pool is exhausted, its disk is full, it is half-partitioned from us); only the callers
 * see that — and each caller sees it within a few requests rather than a TTL.
 */
export interface OutlierOptions {
  /** Consecutive failures that eject an endpoint. */
  consecutiveFailures: number;
  /** First cool-down; doubles with each repeated ejection. */
  baseEjectionMs: number;
  /** Cap on the doubled cool-down. */
  maxEjectionMs: number;
  /**
   * Never eject more than this percentage of the routable endpoints. When most endpoints fail at
   * once the likelier cause is shared (a bad deploy, a dependency down, our own network) and
   * ejecting them all would turn a partial outage into a total one.
   */
  maxEjectionPercent: number;
}

export const OUTLIER_DEFAULTS: OutlierOptions = Object.freeze({
  /** Envoy's default: a few failures can be bad luck, five in a row rarely are. */
  consecutiveFailures: 5,
  /** Long enough for a restart or a GC storm to pass, short enough not to waste capacity. */
  baseEjectionMs: 10_000,
  /** Envoy's max_ejection_time: a persistently bad endpoint is retried every 5 minutes at least. */
  maxEjectionMs: 300_000,
  /** Half: with 2 endpoints one may go, with 1 none — a lone endpoint is always tried. */
  maxEjectionPercent: 50,
});

export interface EndpointHealth {
  readonly consecutiveFailures: number;
  readonly ejected: boolean;
  /** When the current or last ejection ends. */
  readonly ejectedUntil: Date | undefined;
  /** Ejections counted for the doubling (decays while the endpoint behaves). */
  readonly ejections: number;
}

export interface EjectionEvent {
  readonly id: string;
  readonly type: 'ejected' | 'ejection-refused';
  readonly at: Date;
  /** For `ejected`: until when. */
  readonly until?: Date;
  readonly consecutiveFailures: number;
}

interface State {
  consecutiveFailures: number;
  ejectedUntil: number;
  ejections: number;
}

export class HealthTracker {
  readonly options: OutlierOptions;
  private readonly clock: Clock;
  private readonly states = new Map<string, State>();
  private readonly listeners = new Set<(event: EjectionEvent) => void>();
  /**
   * How many routable endpoints the last `filter` (pick) saw: the base of the max-ejection
   * percentage. Before the first pick it is 0, so nothing can be ejected — outcomes follow picks.
   */
  private population = 0;

  constructor(options: Partial<OutlierOptions> = {}, clock: Clock = systemClock) {
    this.options = { ...OUTLIER_DEFAULTS, ...options };
    const { consecutiveFailures, baseEjectionMs, maxEjectionMs, maxEjectionPercent } = this.options;
    if (!Number.isInteger(consecutiveFailures) || consecutiveFailures < 1) throw new RangeError(`consecutiveFailures must be a positive integer, got ${consecutiveFailures}`);
    if (!(baseEjectionMs > 0) || !(maxEjectionMs >= baseEjectionMs)) throw new RangeError(`need 0 < baseEjectionMs <= maxEjectionMs, got ${baseEjectionMs} and ${maxEjectionMs}`);
    if (!(maxEjectionPercent >= 0 && maxEjectionPercent <= 100)) throw new RangeError(`maxEjectionPercent must be in 0..100, got ${maxEjectionPercent}`);
    this.clock = clock;
  }

  /** Records a request's outcome; may eject the endpoint. */
  record(id: string, ok: boolean): void {
    const now = this.clock.now().getTime();
    if (ok) {
      const state = this.states.get(id);
      if (state) state.consecutiveFailures = 0;
      return;
    }
    const state = this.state(id);
    // Failures of requests that were already in flight when it was ejected change nothing.
    if (state.ejectedUntil > now) return;
    state.consecutiveFailures++;
    if (state.consecutiveFailures < this.options.consecutiveFailures) return;
    if (this.ejectedCount(now) + 1 > this.allowedEjections(this.population)) {
      // Keep the failure count: the next failure tries again, and succeeds once the cap allows.
      this.emit({ id, type: 'ejection-refused', at: new Date(now), consecutiveFailures: state.consecutiveFailures });
      return;
    }
    // Decay: every base period of good behaviour since the last ejection ended forgives one.
    if (state.ejections > 0 && state.ejectedUntil > 0) {
      state.ejections = Math.max(0, state.ejections - Math.floor((now - state.ejectedUntil) / this.options.baseEjectionMs));
    }
    const duration = Math.min(this.options.baseEjectionMs * 2 ** state.ejections, this.options.maxEjectionMs);
    state.ejections++;
    state.ejectedUntil = now + duration;
    const failures = state.consecutiveFailures;
    // Back in after the cool-down with a clean slate: it needs N new failures to go again.
    state.consecutiveFailures = 0;
    this.emit({ id, type: 'ejected', at: new Date(now), until: new Date(state.ejectedUntil), consecutiveFailures: failures });
  }

  /**
   * The endpoints that may be picked: all of `routable` minus the ejected ones, but never fewer
   * than the max-ejection percentage guarantees — if the set shrank since the ejections (instances
   * left), the ejections ending soonest are overridden first.
   */
  filter<E extends Endpoint>(routable: readonly E[]): readonly E[] {
    this.population = routable.length;
    const now = this.clock.now().getTime();
    let ejected: { endpoint: E; until: number }[] | undefined;
    for (const endpoint of routable) {
      const until = this.states.get(endpoint.id)?.ejectedUntil ?? 0;
      if (until > now) (ejected ??= []).push({ endpoint, until });
    }
    if (!ejected) return routable;
    const allowed = this.allowedEjections(routable.length);
    const stillOut = new Set(
      ejected
        .sort((a, b) => b.until - a.until || (a.endpoint.id < b.endpoint.id ? -1 : 1))
        .slice(0, allowed)
        .map((e) => e.endpoint.id),
    );
    return routable.filter((endpoint) => !stillOut.has(endpoint.id));
  }

  isEjected(id: string): boolean {
    return (this.states.get(id)?.ejectedUntil ?? 0) > this.clock.now().getTime();
  }

  health(id: string): EndpointHealth {
    const state = this.states.get(id);
    const now = this.clock.now().getTime();
    return {
      consecutiveFailures: state?.consecutiveFailures ?? 0,
      ejected: (state?.ejectedUntil ?? 0) > now,
      ejectedUntil: state && state.ejectedUntil > 0 ? new Date(state.ejectedUntil) : undefined,
      ejections: state?.ejections ?? 0,
    };
  }

  /** Drops what is known about endpoints not in `ids` (they left discovery): memory stays bounded under churn. */
  retainOnly(ids: ReadonlySet<string>): void {
    for (const id of this.states.keys()) if (!ids.has(id)) this.states.delete(id);
  }

  onEjection(listener: (event: EjectionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * floor(percent × n), and never all of them: with the default 50%, 1 of 2 or 3, 2 of 4 or 5,
   * none of 1. Even at 100% one endpoint stays: trying a doubtful endpoint beats failing every
   * call outright for a whole cool-down.
   */
  allowedEjections(population: number): number {
    return Math.max(0, Math.min(Math.floor((this.options.maxEjectionPercent / 100) * population), population - 1));
  }

  private ejectedCount(now: number): number {
    let count = 0;
    for (const state of this.states.values()) if (state.ejectedUntil > now) count++;
    return count;
  }

  private state(id: string): State {
    let state = this.states.get(id);
    if (!state) this.states.set(id, (state = { consecutiveFailures: 0, ejectedUntil: 0, ejections: 0 }));
    return state;
  }

  private emit(event: EjectionEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}
