/**
 * Reads the Prometheus text format of /metrics and turns two scrapes into the rates the operations
 * page charts. Pure functions: no DOM, no fetch (unit-tested in apps/web/test).
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) break;
    const name = text.slice(i, eq).trim().replace(/^,/, '').trim();
    let j = eq + 1;
    if (text[j] !== '"') break;
    j += 1;
    let value = '';
    while (j < text.length && text[j] !== '"') {
      if (text[j] === '\\' && j + 1 < text.length) {
        const next = text[j + 1];
        value += next === 'n' ? '\n' : (next ?? '');
        j += 2;
      } else {
        value += text[j];
        j += 1;
      }
    }
    labels[name] = value;
    i = j + 1;
    while (i < text.length && (text[i] === ',' || text[i] === ' ')) i += 1;
  }
  return labels;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match) continue;
    const [, name = '', , labelText = '', value = 'NaN'] = match;
    samples.push({ name, labels: labelText ? parseLabels(labelText) : {}, value: parseValue(value) });
  }
  return samples;
}

export type LabelFilter = (labels: Record<string, string>) => boolean;

export function sum(samples: readonly Sample[], name: string, filter: LabelFilter = () => true): number {
  let total = 0;
  for (const s of samples) if (s.name === name && filter(s.labels) && Number.isFinite(s.value)) total += s.value;
  return total;
}

export function has(samples: readonly Sample[], name: string): boolean {
  return samples.some((s) => s.name === name);
}

/** Sums a counter by one label's values: `{ held: 12, committed: 9 }`. */
export function sumBy(samples: readonly Sample[], name: string, label: string, filter: LabelFilter = () => true): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== name || !filter(s.labels)) continue;
    const key = s.labels[label] ?? '';
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

/** Cumulative bucket counts (summed over series) by upper bound `le`, ascending. */
export function buckets(samples: readonly Sample[], name: string, filter: LabelFilter = () => true): { le: number; count: number }[] {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !filter(s.labels)) continue;
    const le = parseValue(s.labels.le ?? 'NaN');
    if (Number.isNaN(le)) continue;
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe.entries()].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/** Bucket increases between two scrapes (a counter that went down was reset: take it as is). */
export function bucketDelta(before: readonly { le: number; count: number }[], after: readonly { le: number; count: number }[]): { le: number; count: number }[] {
  const prev = new Map(before.map((b) => [b.le, b.count]));
  return after.map((b) => {
    const was = prev.get(b.le) ?? 0;
    return { le: b.le, count: b.count >= was ? b.count - was : b.count };
  });
}

/**
 * The q-quantile of a cumulative histogram, interpolated inside its bucket as Prometheus'
 * histogram_quantile does; undefined when the histogram saw nothing.
 */
export function histogramQuantile(q: number, cumulative: readonly { le: number; count: number }[]): number | undefined {
  const total = cumulative.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bucket of cumulative) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return lowerBound;
      const inBucket = bucket.count - lowerCount;
      if (inBucket <= 0) return bucket.le;
      return lowerBound + (bucket.le - lowerBound) * ((rank - lowerCount) / inBucket);
    }
    lowerBound = bucket.le;
    lowerCount = bucket.count;
  }
  return lowerBound;
}

/** A counter's increase between scrapes, per second; a reset (process restart) counts from zero. */
export function rate(before: number, after: number, seconds: number): number {
  if (seconds <= 0) return 0;
  const increase = after >= before ? after - before : after;
  return increase / seconds;
}
