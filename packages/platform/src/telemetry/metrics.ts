import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One value of a gauge read at scrape time, with its labels. */
export interface MetricSample<L extends string> {
  labels: Partial<Record<L, string>>;
  value: number;
}

/** Reads samples when Prometheus scrapes (never on a request path); may query, within {@link SCRAPE_LIMITS}. */
export type SampleSource<L extends string> = () => MetricSample<L>[] | Promise<MetricSample<L>[]>;

/** How samples of several sources with the same labels (one per shard, say) become one: summed, or the largest. */
export type SampleMerge = 'sum' | 'max';

export const SCRAPE_LIMITS = {
  /** A source that has not answered by then is left out of this scrape (its series are absent, not stale). */
  sourceTimeoutMs: 2_000,
} as const;

interface ScrapedGauge {
  sources: Set<SampleSource<string>>;
  merge: SampleMerge;
}

/** One registry per process; every service in the process adds its metrics to it. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'service' | 'method' | 'route' | 'status'>;
  readonly httpRequests: Counter<'service' | 'method' | 'route' | 'status'>;
  private readonly scrapedGauges = new Map<string, ScrapedGauge>();

  constructor(collectDefaults = true) {
    if (collectDefaults) collectDefaultMetrics({ register: this.registry, prefix: 'agora_' });
    this.httpDuration = new Histogram({
      name: 'agora_http_request_duration_seconds',
      help: 'HTTP request latency by service, route and status',
      labelNames: ['service', 'method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.httpRequests = new Counter({
      name: 'agora_http_requests_total',
      help: 'HTTP requests by service, route and status',
      labelNames: ['service', 'method', 'route', 'status'],
      registers: [this.registry],
    });
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Counter<L>;
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Gauge<L>;
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): Histogram<L> {
    const existing = this.registry.getSingleMetric(name);
    if (existing) return existing as Histogram<L>;
    return new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] });
  }

  /**
   * A gauge whose values are read from `source` at each scrape: for state that needs a query or
   * lives elsewhere (pool sizes, outbox lag, breaker states), so no request pays for it. Several
   * sources may feed one gauge (`merge` combines equal label sets); the returned function removes
   * this one. A source that throws or times out is left out of that scrape.
   */
  scraped<L extends string>(name: string, help: string, labelNames: readonly L[], source: SampleSource<L>, merge: SampleMerge = 'sum'): () => void {
    let entry = this.scrapedGauges.get(name);
    if (!entry) {
      const created: ScrapedGauge = { sources: new Set(), merge };
      entry = created;
      this.scrapedGauges.set(name, created);
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers: [this.registry],
        async collect() {
          this.reset();
          const merged = new Map<string, MetricSample<L>>();
          const results = await Promise.all([...created.sources].map((read) => readWithin(read as SampleSource<L>, SCRAPE_LIMITS.sourceTimeoutMs)));
          for (const sample of results.flat()) {
            const key = JSON.stringify(Object.entries(sample.labels).sort(([a], [b]) => a.localeCompare(b)));
            const seen = merged.get(key);
            if (!seen) merged.set(key, { labels: sample.labels, value: sample.value });
            else seen.value = created.merge === 'sum' ? seen.value + sample.value : Math.max(seen.value, sample.value);
          }
          for (const { labels, value } of merged.values()) this.set(labels, value);
        },
      });
    }
    if (entry.merge !== merge) throw new Error(`metric ${name} merges its sources by ${entry.merge}, not ${merge}`);
    const added = source as SampleSource<string>;
    entry.sources.add(added);
    const sources = entry.sources;
    return () => void sources.delete(added);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** The samples of `read`, or none when it fails or is slower than `timeoutMs`. */
async function readWithin<L extends string>(read: SampleSource<L>, timeoutMs: number): Promise<MetricSample<L>[]> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(read),
      new Promise<MetricSample<L>[]>((resolve) => {
        timer = setTimeout(() => resolve([]), timeoutMs);
      }),
    ]);
  } catch {
    return [];
  } finally {
    if (timer) clearTimeout(timer);
  }
}
