import { systemClock, type Clock } from '@agora/kernel';
import { isRoutable, type Endpoint, type Outcome, type PickContext, type RandomSource } from './endpoint.js';
import { HealthTracker, type OutlierOptions } from './health.js';
import {
  ConsistentHashSelector,
  LeastOutstandingSelector,
  PowerOfTwoChoicesSelector,
  RandomSelector,
  RoundRobinSelector,
  SmoothWeightedSelector,
  type LoadView,
  type Selector,
} from './strategies.js';

export const BALANCING_STRATEGIES = ['round-robin', 'random', 'smooth-weighted', 'least-outstanding', 'p2c', 'consistent-hash'] as const;
export type BalancingStrategy = (typeof BALANCING_STRATEGIES)[number];

/**
 * Client-side load balancing for calls to one service. One balancer per (calling client, target
 * service): its state — round-robin position, smooth weights, requests in flight, failure counts —
 * describes what *this* client sends to *that* service.
 *
 * A pick goes through three filters, in order:
 * 1. discovery: endpoints `down` or `draining` are never picked;
 * 2. health: endpoints ejected for consecutive failures are skipped (never more than the
 *    max-ejection percentage of what is left after 1);
 * 3. the strategy chooses among what remains.
 * The caller reports every request with `onStart` and `onEnd`, which feeds both the load-aware
 * strategies and outlier ejection.
 */
export interface Balancer {
  readonly strategy: BalancingStrategy;
  readonly health: HealthTracker;
  /** The endpoint for the next request, or undefined when none is routable. Returns the caller's own object. */
  pick<E extends Endpoint>(candidates: readonly E[], context?: PickContext): E | undefined;
  /** A request to `endpoint` is starting. */
  onStart(endpoint: Endpoint): void;
  /** That request finished; `ok: false` counts toward ejection. Call exactly once per `onStart`. */
  onEnd(endpoint: Endpoint, outcome: Outcome): void;
  /** Requests in flight from this balancer to `id`. */
  outstanding(id: string): number;
  /** Smoothed latency of `id`'s recent requests (EWMA, α = 0.3), for dashboards and future latency-aware strategies. */
  latencyMs(id: string): number | undefined;
}

export interface BalancerOptions {
  /** Default `Math.random`; tests pass `seededRandom(seed)`. */
  random?: RandomSource;
  /** Drives ejection cool-downs; tests pass a ManualClock. */
  clock?: Clock;
  /** Outlier ejection settings; `false` turns ejection off. */
  outlier?: Partial<OutlierOptions> | false;
  /** Ring points per endpoint of default weight, for `consistent-hash`. */
  virtualNodes?: number;
}

const LATENCY_SMOOTHING = 0.3;

export function createBalancer(strategy: BalancingStrategy, options: BalancerOptions = {}): Balancer {
  return new ClientBalancer(strategy, options);
}

class ClientBalancer implements Balancer, LoadView {
  readonly health: HealthTracker;
  private readonly selector: Selector;
  private readonly ejection: boolean;
  private readonly inFlight = new Map<string, number>();
  private readonly latencies = new Map<string, number>();
  private knownIds: ReadonlySet<string> = new Set();

  constructor(
    readonly strategy: BalancingStrategy,
    options: BalancerOptions,
  ) {
    const random = options.random ?? Math.random;
    this.ejection = options.outlier !== false;
    this.health = new HealthTracker(options.outlier === false ? {} : options.outlier, options.clock ?? systemClock);
    this.selector = makeSelector(strategy, this, random, options.virtualNodes);
  }

  pick<E extends Endpoint>(candidates: readonly E[], context: PickContext = {}): E | undefined {
    // Keep the caller's array when nothing is filtered out: a frozen array seen before lets the
    // consistent-hash ring skip its rebuild check.
    const routable = candidates.every(isRoutable) ? candidates : candidates.filter(isRoutable);
    if (routable.length === 0) return undefined;
    this.forgetDeparted(routable);
    const eligible = this.ejection ? this.health.filter(routable) : routable;
    if (eligible.length === 0) return undefined;
    return this.selector.select(eligible, context, routable);
  }

  onStart(endpoint: Endpoint): void {
    this.inFlight.set(endpoint.id, (this.inFlight.get(endpoint.id) ?? 0) + 1);
  }

  onEnd(endpoint: Endpoint, outcome: Outcome): void {
    const left = (this.inFlight.get(endpoint.id) ?? 0) - 1;
    if (left > 0) this.inFlight.set(endpoint.id, left);
    else this.inFlight.delete(endpoint.id);
    const previous = this.latencies.get(endpoint.id);
    this.latencies.set(endpoint.id, previous === undefined ? outcome.latencyMs : previous + LATENCY_SMOOTHING * (outcome.latencyMs - previous));
    if (this.ejection) this.health.record(endpoint.id, outcome.ok);
  }

  outstanding(id: string): number {
    return this.inFlight.get(id) ?? 0;
  }

  latencyMs(id: string): number | undefined {
    return this.latencies.get(id);
  }

  /**
   * Drops health and latency state of endpoints that left discovery, so a long-running client
   * with instance churn does not grow without bound. In-flight counts are kept until their
   * requests end. Cheap unless the set changed: a size check and a lookup per endpoint.
   */
  private forgetDeparted(routable: readonly Endpoint[]): void {
    if (routable.length === this.knownIds.size && routable.every((e) => this.knownIds.has(e.id))) return;
    const ids = new Set(routable.map((e) => e.id));
    this.knownIds = ids;
    this.health.retainOnly(ids);
    for (const id of this.latencies.keys()) if (!ids.has(id)) this.latencies.delete(id);
  }
}

function makeSelector(strategy: BalancingStrategy, load: LoadView, random: RandomSource, virtualNodes: number | undefined): Selector {
  switch (strategy) {
    case 'round-robin':
      return new RoundRobinSelector(random);
    case 'random':
      return new RandomSelector(random);
    case 'smooth-weighted':
      return new SmoothWeightedSelector();
    case 'least-outstanding':
      return new LeastOutstandingSelector(load, random);
    case 'p2c':
      return new PowerOfTwoChoicesSelector(load, random);
    case 'consistent-hash':
      return new ConsistentHashSelector(load, random, virtualNodes);
  }
}
