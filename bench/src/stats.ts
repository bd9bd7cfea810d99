/** Latency samples of one phase. Every sample is kept (bounded), so percentiles are exact. */
export class Samples {
  private values: number[] = [];
  private dropped = 0;

  constructor(private readonly max: number) {}

  add(ms: number): void {
    if (this.values.length < this.max) this.values.push(ms);
    else this.dropped += 1;
  }

  get count(): number {
    return this.values.length + this.dropped;
  }

  summary(): LatencySummary {
    if (this.values.length === 0) return { count: this.count, p50Ms: Number.NaN, p90Ms: Number.NaN, p99Ms: Number.NaN, maxMs: Number.NaN, meanMs: Number.NaN };
    const sorted = Float64Array.from(this.values).sort();
    const at = (p: number) => percentileOfSorted(sorted, p);
    let sum = 0;
    for (const v of sorted) sum += v;
    return { count: this.count, p50Ms: at(50), p90Ms: at(90), p99Ms: at(99), maxMs: sorted[sorted.length - 1] ?? Number.NaN, meanMs: sum / sorted.length };
  }
}

/** Nearest-rank percentile (p in 0..100) of ascending samples; NaN when there are none. */
export function percentileOfSorted(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/** Rounds for the report: figures keep what a reader can use, no false precision. */
export function round(value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
