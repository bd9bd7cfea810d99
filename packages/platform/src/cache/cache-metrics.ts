import type { Metrics } from '../telemetry/metrics.js';

interface Inc {
  inc(value?: number): void;
}

const NOOP: Inc = { inc: () => undefined };

/**
 * The cache's counters, bound to their labels once (a hit is one add, no label lookup). Labels are
 * bounded: `cache` is a name fixed in code, the others are the enums below.
 */
export class CacheMetrics {
  readonly l1Hit: Inc;
  readonly l1Miss: Inc;
  readonly l2Hit: Inc;
  readonly l2Miss: Inc;
  readonly loadFound: Inc;
  readonly loadAbsent: Inc;
  readonly loadError: Inc;
  readonly eviction: Inc;
  readonly invalidatedLocal: Inc;
  readonly invalidatedRemote: Inc;
  private readonly l2Errors: Map<L2Operation, Inc>;

  constructor(cache: string, policy: string, metrics: Metrics | undefined) {
    if (metrics === undefined) {
      this.l1Hit = this.l1Miss = this.l2Hit = this.l2Miss = NOOP;
      this.loadFound = this.loadAbsent = this.loadError = this.eviction = NOOP;
      this.invalidatedLocal = this.invalidatedRemote = NOOP;
      this.l2Errors = new Map(L2_OPERATIONS.map((op) => [op, NOOP]));
      return;
    }
    const requests = metrics.counter('agora_cache_requests_total', 'Cache lookups by cache, tier (l1, l2) and result (hit, miss)', ['cache', 'tier', 'result']);
    this.l1Hit = requests.labels({ cache, tier: 'l1', result: 'hit' });
    this.l1Miss = requests.labels({ cache, tier: 'l1', result: 'miss' });
    this.l2Hit = requests.labels({ cache, tier: 'l2', result: 'hit' });
    this.l2Miss = requests.labels({ cache, tier: 'l2', result: 'miss' });
    const loads = metrics.counter('agora_cache_loads_total', 'Loads from the source after a miss in every tier, by outcome (found, absent, error)', ['cache', 'outcome']);
    this.loadFound = loads.labels({ cache, outcome: 'found' });
    this.loadAbsent = loads.labels({ cache, outcome: 'absent' });
    this.loadError = loads.labels({ cache, outcome: 'error' });
    const evictions = metrics.counter('agora_cache_evictions_total', 'L1 entries pushed out to make room, by cache and policy', ['cache', 'policy']);
    this.eviction = evictions.labels({ cache, policy });
    const invalidations = metrics.counter('agora_cache_invalidations_total', 'Invalidations applied to L1, by origin (local, remote)', ['cache', 'origin']);
    this.invalidatedLocal = invalidations.labels({ cache, origin: 'local' });
    this.invalidatedRemote = invalidations.labels({ cache, origin: 'remote' });
    const errors = metrics.counter('agora_cache_l2_errors_total', 'L2 operations that failed (the cache fell back to L1 or the source)', ['cache', 'operation']);
    this.l2Errors = new Map(L2_OPERATIONS.map((operation) => [operation, errors.labels({ cache, operation })]));
  }

  l2Error(operation: L2Operation): void {
    this.l2Errors.get(operation)?.inc();
  }
}

export const L2_OPERATIONS = ['read', 'write', 'delete', 'generation', 'publish'] as const;
export type L2Operation = (typeof L2_OPERATIONS)[number];
