import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { L1_POLICIES, createL1Store, type L1Policy } from '@agora/platform';
import { runBaseline } from './baseline.js';
import { ServerProcess, type NodeLauncher } from './child.js';
import { prepareRunStorage } from './database.js';
import { LoopbackClient } from './http.js';
import { closedLoop, type Outcome, type PhaseResult } from './load.js';
import { round } from './stats.js';

export const CACHE_BENCH_LIMITS = {
  clientsMax: 1_000,
  durationSMax: 600,
  productsMax: 100_000,
  zipfExponentMax: 3,
  /** Requests replayed through each L1 policy to compare hit ratios (offline, in this process). */
  policyTraceMax: 1_000_000,
  /** Pages walked to collect the product ids (100 a page). */
  pagesMax: 1_000,
} as const;

/** The same long TTL the server's L1 uses: the replay compares replacement, not expiry. */
const REPLAY_TTL_MS = 3_600_000;
/** Seed of the Zipf stream: every run (and every policy) sees the same sequence of products. */
const TRACE_SEED = 0x5eed;

export interface CacheBenchOptions {
  clients: number;
  durationS: number;
  warmupS: number;
  baselineS: number;
  /** Demo products seeded into the run's catalog. */
  products: number;
  /** L1 entries per cache in the server (AGORA_CATALOG_CACHE_ENTRIES), and in the policy replay. */
  cacheEntries: number;
  /** s of the Zipf law: product of popularity rank k is read with probability ∝ 1/k^s. */
  zipfExponent: number;
  env: NodeJS.ProcessEnv;
  launcher: NodeLauncher;
  agoraMain: string;
  progress: (line: string) => void;
}

interface Phase {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

export interface CacheReport {
  scenario: 'cache';
  reqPerSecCached: number;
  reqPerSecUncached: number;
  /** Hit ratio of each L1 policy replaying the same Zipf stream with the server's L1 size. */
  hitRatio: Record<L1Policy, number>;
  baselineReqPerSec: number;
  /** Cached product reads ÷ bare Fastify (the target: >= 0.6). */
  ratioCached: number;
  ratioUncached: number;
  pageReqPerSecCached: number;
  pageReqPerSecUncached: number;
  /** Cached first-page reads ÷ bare Fastify (the target: >= 0.3). */
  pageRatioCached: number;
  /** L1 hits ÷ lookups of the products cache inside the server during the cached product phase. */
  serverHitRatio: number | null;
  /** The policy the server ran (AGORA_CATALOG_CACHE_POLICY from the caller's environment, else lru). */
  serverPolicy: string;
  errors: number;
  phases: { productsCached: Phase; productsUncached: Phase; pageCached: Phase; pageUncached: Phase };
  products: number;
  cacheEntries: number;
  zipfExponent: number;
  clients: number;
  durationS: number;
  storage: 'postgres' | 'embedded';
  baseline: { reqPerSec: number; p50Ms: number; p99Ms: number };
  machine: { cpus: number; model: string; node: string; loadAverage1mBefore: number };
  startedAt: string;
}

/** A small seeded PRNG (mulberry32): the stream is the same in every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Draws ranks 0..n-1 by the Zipf law with exponent `s` (inverse CDF by binary search). */
export function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / (k + 1) ** s;
  return () => {
    const u = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] ?? 0) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Hit ratio of each policy over `length` draws of the Zipf stream, with `entries` L1 slots. */
export function replayPolicies(products: number, entries: number, s: number, length: number): Record<L1Policy, number> {
  const result = {} as Record<L1Policy, number>;
  for (const policy of L1_POLICIES) {
    const draw = zipfSampler(products, s, seeded(TRACE_SEED));
    let now = 1;
    const store = createL1Store(policy, { maxEntries: entries, now: () => now });
    let hits = 0;
    for (let i = 0; i < length; i++, now++) {
      const key = String(draw());
      if (store.get(key) !== undefined) hits++;
      else store.set(key, 'x', REPLAY_TTL_MS);
    }
    result[policy] = round(hits / length, 4);
  }
  return result;
}

async function productIds(http: LoopbackClient, wanted: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < CACHE_BENCH_LIMITS.pagesMax && ids.length < wanted; page++) {
    const answer = await http.request('GET', `/api/v1/products?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { parse: true });
    if (answer.status !== 200) throw new Error(`listing products answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    const body = answer.body as { items: { id: string }[]; nextCursor: string | null };
    ids.push(...body.items.map((p) => p.id));
    cursor = body.nextCursor;
    if (cursor === null) break;
  }
  if (ids.length === 0) throw new Error('the catalog has no products to read');
  return ids.slice(0, wanted);
}

/** The products cache's L1 hits and lookups, from the server's /metrics. */
async function l1Counters(http: LoopbackClient): Promise<{ hits: number; lookups: number } | undefined> {
  // Not JSON: parsing fails and the text is kept as the body.
  const answer = await http.request('GET', '/metrics', { parse: true });
  if (answer.status !== 200) return undefined;
  const text = typeof answer.body === 'string' ? answer.body : '';
  const count = (result: string) => Number(new RegExp(`agora_cache_requests_total\\{cache="catalog-products",tier="l1",result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  return { hits: count('hit'), lookups: count('hit') + count('miss') };
}

function phase(result: PhaseResult): Phase {
  const latency = result.latency.summary();
  return { reqPerSec: round(result.ok / result.elapsedS, 0), p50Ms: round(latency.p50Ms, 2), p99Ms: round(latency.p99Ms, 2), requests: result.ok, errors: result.errors };
}

function get(http: LoopbackClient, path: () => string): (client: number) => Promise<Outcome> {
  return async () => {
    const answer = await http.request('GET', path());
    return answer.status === 200 ? { ok: true, ms: answer.ms } : { ok: false, kind: `GET ${answer.status}` };
  };
}

interface Measured {
  products: PhaseResult;
  page: PhaseResult;
  hitRatio: number | null;
}

/** One `agora start` with the cache on or off: warm-up, then product reads by Zipf, then the first page. */
async function measureServer(options: CacheBenchOptions, env: NodeJS.ProcessEnv, cache: 'on' | 'off', ids: string[] | undefined): Promise<{ measured: Measured; ids: string[] }> {
  options.progress(`starting \`agora start\` with AGORA_CATALOG_CACHE=${cache}`);
  const { server, port } = await ServerProcess.start('agora start', options.launcher, options.agoraMain, ['start'], { ...env, AGORA_CATALOG_CACHE: cache }, /running at http:\/\/localhost:(\d+)/);
  const http = new LoopbackClient(`http://127.0.0.1:${port}`, options.clients);
  try {
    const known = ids ?? (await productIds(http, options.products));
    // Popularity rank -> product: a fixed shuffle, so the hot products are spread over the catalog.
    const shuffle = seeded(TRACE_SEED + 1);
    const ranked = [...known];
    for (let i = ranked.length - 1; i > 0; i--) {
      const j = Math.floor(shuffle() * (i + 1));
      [ranked[i], ranked[j]] = [ranked[j] as string, ranked[i] as string];
    }
    const draw = zipfSampler(ranked.length, options.zipfExponent, seeded(TRACE_SEED));
    const productRead = get(http, () => `/api/v1/products/${ranked[draw()] ?? ''}`);
    options.progress(`cache ${cache}: warm-up ${options.warmupS} s, then product reads ${options.durationS} s (${options.clients} clients)`);
    await closedLoop(options.clients, options.warmupS * 1000, productRead);
    const before = await l1Counters(http);
    const products = await closedLoop(options.clients, options.durationS * 1000, productRead);
    const after = await l1Counters(http);
    const pageRead = get(http, () => '/api/v1/products');
    options.progress(`cache ${cache}: first catalog page ${options.durationS} s`);
    await closedLoop(options.clients, options.warmupS * 1000, pageRead);
    const page = await closedLoop(options.clients, options.durationS * 1000, pageRead);
    const lookups = before && after ? after.lookups - before.lookups : 0;
    const hitRatio = before && after && lookups > 0 ? round((after.hits - before.hits) / lookups, 4) : null;
    return { measured: { products, page, hitRatio }, ids: known };
  } finally {
    await http.close();
    await server.stop();
  }
}

/**
 * `agora bench cache`: the same-run bare-Fastify baseline, then `agora start` twice on one fresh
 * catalog — with the storefront cache, and with AGORA_CATALOG_CACHE=off — each read by Zipf-
 * distributed product requests and by the first catalog page; and the L1 policies compared on the
 * same Zipf stream.
 */
export async function runCacheBench(options: CacheBenchOptions): Promise<CacheReport> {
  const startedAt = new Date().toISOString();
  const loadAverage1mBefore = round(loadavg()[0] ?? Number.NaN, 2);
  const cleanups: (() => Promise<void>)[] = [];
  try {
    options.progress(`baseline: bare Fastify, ${options.clients} connections, ${options.baselineS} s`);
    const baseline = await runBaseline({ launcher: options.launcher, connections: options.clients, durationS: options.baselineS });
    const { database, dataDir } = await prepareRunStorage({ env: options.env, dataDirPrefix: 'agora-bench-cache-', progress: options.progress, cleanups });
    const env: NodeJS.ProcessEnv = {
      ...options.env,
      PORT: '0',
      HOST: '127.0.0.1',
      AGORA_DATA_DIR: dataDir,
      AGORA_RATE_LIMITS: 'off',
      AGORA_LOG_LEVEL: 'warn',
      AGORA_SEED: 'on',
      AGORA_DEMO_PRODUCTS: String(options.products),
      AGORA_CATALOG_CACHE_ENTRIES: String(options.cacheEntries),
      AGORA_ADMIN_EMAIL: 'bench-admin@agora.local',
      AGORA_ADMIN_PASSWORD: `bench-${randomBytes(9).toString('base64url')}`,
      AGORA_JWT_SECRET: randomBytes(48).toString('base64url'),
      ...(database ? { DATABASE_URL: database.url } : {}),
    };
    const cached = await measureServer(options, env, 'on', undefined);
    const uncached = await measureServer(options, env, 'off', cached.ids);
    const traceLength = Math.min(CACHE_BENCH_LIMITS.policyTraceMax, Math.max(cached.measured.products.ok, 100_000));
    options.progress(`replaying ${traceLength} Zipf reads through LRU, LFU and FIFO (${options.cacheEntries} entries)`);
    const hitRatio = replayPolicies(cached.ids.length, options.cacheEntries, options.zipfExponent, traceLength);
    const phases = {
      productsCached: phase(cached.measured.products),
      productsUncached: phase(uncached.measured.products),
      pageCached: phase(cached.measured.page),
      pageUncached: phase(uncached.measured.page),
    };
    const ratio = (reqPerSec: number) => Number((reqPerSec / baseline.reqPerSec).toPrecision(3));
    return {
      scenario: 'cache',
      reqPerSecCached: phases.productsCached.reqPerSec,
      reqPerSecUncached: phases.productsUncached.reqPerSec,
      hitRatio,
      baselineReqPerSec: round(baseline.reqPerSec, 0),
      ratioCached: ratio(phases.productsCached.reqPerSec),
      ratioUncached: ratio(phases.productsUncached.reqPerSec),
      pageReqPerSecCached: phases.pageCached.reqPerSec,
      pageReqPerSecUncached: phases.pageUncached.reqPerSec,
      pageRatioCached: ratio(phases.pageCached.reqPerSec),
      serverHitRatio: cached.measured.hitRatio,
      serverPolicy: options.env.AGORA_CATALOG_CACHE_POLICY ?? 'lru',
      errors: Object.values(phases).reduce((sum, p) => sum + p.errors, 0),
      phases,
      products: cached.ids.length,
      cacheEntries: options.cacheEntries,
      zipfExponent: options.zipfExponent,
      clients: options.clients,
      durationS: options.durationS,
      storage: database ? 'postgres' : 'embedded',
      baseline: { reqPerSec: round(baseline.reqPerSec, 0), p50Ms: round(baseline.p50Ms, 2), p99Ms: round(baseline.p99Ms, 2) },
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage1mBefore },
      startedAt,
    };
  } finally {
    for (const step of cleanups.reverse()) await step().catch((err: unknown) => options.progress(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`));
  }
}

export function formatCacheTable(r: CacheReport): string {
  const row = (label: string, value: string) => `  ${label.padEnd(40)}${value}`;
  const p = r.phases;
  return [
    row('scenario', 'cache (catalog reads through the gateway of `agora start`)'),
    row('storage / products / L1 entries', `${r.storage} / ${r.products} / ${r.cacheEntries}`),
    row('clients / measured per phase', `${r.clients} / ${r.durationS} s, Zipf s = ${r.zipfExponent}`),
    row('product by id, cached req/s', `${r.reqPerSecCached} (p50 ${p.productsCached.p50Ms} / p99 ${p.productsCached.p99Ms} ms) = ${r.ratioCached} of bare Fastify`),
    row('product by id, uncached req/s', `${r.reqPerSecUncached} (p50 ${p.productsUncached.p50Ms} / p99 ${p.productsUncached.p99Ms} ms) = ${r.ratioUncached}`),
    row('first page, cached req/s', `${r.pageReqPerSecCached} (p50 ${p.pageCached.p50Ms} / p99 ${p.pageCached.p99Ms} ms) = ${r.pageRatioCached}`),
    row('first page, uncached req/s', `${r.pageReqPerSecUncached} (p50 ${p.pageUncached.p50Ms} / p99 ${p.pageUncached.p99Ms} ms)`),
    row(`server L1 hit ratio (${r.serverPolicy}, measured)`, String(r.serverHitRatio)),
    row('hit ratio by policy (replayed stream)', `lru ${r.hitRatio.lru} / lfu ${r.hitRatio.lfu} / fifo ${r.hitRatio.fifo}`),
    row('baseline (bare Fastify) req/s', `${r.baselineReqPerSec} (p50 ${r.baseline.p50Ms} / p99 ${r.baseline.p99Ms} ms)`),
    row('errors', String(r.errors)),
    row('machine load average before the run', String(r.machine.loadAverage1mBefore)),
  ].join('\n');
}
