import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, EnvReader, LIMITS } from '@agora/kernel';
import { CHECKOUT_BENCH_LIMITS, runCheckoutBench } from './checkout.js';
import { FAILOVER_BENCH_LIMITS, formatFailoverTable, runFailoverBench, writeFailoverResult } from './failover.js';
import type { NodeLauncher } from './child.js';
import { RESULTS_DIR, formatCheckoutTable, writeResult } from './report.js';
import { RING_BENCH_LIMITS, formatRingTable, runRingBench } from './ring.js';
import { CACHE_BENCH_LIMITS, formatCacheTable, runCacheBench } from './cache.js';
import { FLASH_SALE_BENCH_LIMITS, formatFlashSaleTable, runFlashSaleBench } from './flash-sale.js';

export { runCheckoutBench, CHECKOUT_BENCH_LIMITS, type CheckoutBenchOptions, type CheckoutReport } from './checkout.js';
export { runBaseline, type BaselineResult } from './baseline.js';
export type { NodeLauncher } from './child.js';
export { formatCheckoutTable, writeResult, RESULTS_DIR } from './report.js';
export {
  runFailoverBench,
  formatFailoverTable,
  writeFailoverResult,
  ReadLoad,
  phaseFigures,
  watchInstance,
  instanceState,
  FAILOVER_BENCH_LIMITS,
  FAILOVER_VICTIMS,
  type FailoverBenchOptions,
  type FailoverReport,
  type ReadSample,
} from './failover.js';
export { ProcessCluster, PROCESS_CLUSTER_LIMITS, baseEnvironment, type ClusterAdmin, type ClusterMember, type ClusterView, type ProcessClusterOptions } from './process-cluster.js';
export { LoopbackClient } from './http.js';
export { runRingBench, formatRingTable, RING_BENCH_LIMITS, type RingBenchOptions, type RingReport, type SchemeFigures } from './ring.js';
export { runCacheBench, formatCacheTable, replayPolicies, zipfSampler, CACHE_BENCH_LIMITS, type CacheBenchOptions, type CacheReport } from './cache.js';
export { runFlashSaleBench, formatFlashSaleTable, FLASH_SALE_BENCH_LIMITS, type FlashSaleBenchOptions, type FlashSaleReport } from './flash-sale.js';

export const BENCH_USAGE = `usage: agora bench checkout [--json] [--buyers N] [--duration S] [--warmup S] [--baseline-duration S]
                            [--skus K] [--keep-database] [--cpu-prof] [--count-sql]

  N concurrent buyers (default 50) loop add-to-cart + checkout through the gateway of
  \`agora start\` running in a child process; prints checkouts/s, p50/p99 latency, errors and the
  same run's bare-Fastify baseline req/s. --json: the last stdout line is one JSON object.

  storage: DATABASE_URL set → a fresh database agora_bench_<random> is created on that server
  (DATABASE_URL is only used to connect and CREATE/DROP it) and dropped afterwards unless
  --keep-database; unset → embedded PGlite in a temporary directory.
  --cpu-prof: the server runs under node --cpu-prof; its profile lands in bench/results/profiles.
  --count-sql: counts the server's SQL statements and transactions per checkout (PostgreSQL only).

       agora bench failover [--json] [--clients N] [--warmup S] [--before S] [--term-after S] [--after S]
                            [--keep-database]

  Starts its own cluster on DATABASE_URL (a fresh database), REDIS_URL and NATS_URL: a gateway,
  identity, inventory and 3 catalog processes. N clients (default 16) read products through the
  gateway: a --warmup (default 5 s), --before S s (default 5), then catalog-1 is killed with
  SIGKILL, --term-after S later (default 3) catalog-2 is stopped with SIGTERM, and once both are
  settled --after S (default 5) more. Prints requests, client-visible errors, the time until the
  gateway saw catalog-1 down and p99 before / during / after. --json: the last stdout line is
  { scenario, requests, clientErrors, detectionMs, p99MsBefore, p99MsDuring, p99MsAfter, ... }.

       agora bench ring [--json] [--nodes N] [--keys K]

  In this process, no server: K keys (default 1,000,000) over N nodes (default 10) with the hash
  ring, rendezvous and jump hashing; then node N joins. Prints each scheme's balance (busiest ÷
  mean keys), the share of keys moved (and any moved elsewhere than to the newcomer) and
  lookups/s. --json: the last stdout line is
  { scenario: 'ring', nodes, keys, ring: { maxOverMean, movedFraction, ... }, rendezvous, jump }.

       agora bench cache [--json] [--clients N] [--duration S] [--warmup S] [--baseline-duration S]
                         [--products P] [--entries E] [--zipf X]

  \`agora start\` in a child process on a fresh catalog of P demo products (default 1,200), twice:
  with the storefront cache (L1 of E entries, default 10% of P and at least 20) and with
  AGORA_CATALOG_CACHE=off. N clients (default 32) read products by id with Zipf popularity
  (exponent X, default 1), then the first catalog page; prints req/s of each against the same
  run's bare-Fastify baseline, the server's L1 hit ratio, and LRU/LFU/FIFO hit ratios replaying
  the same Zipf stream (docs/caching.md). --json: the last stdout line is
  { scenario: 'cache', reqPerSecCached, reqPerSecUncached, hitRatio: { lru, lfu, fifo },
  baselineReqPerSec, pageReqPerSecCached, ... }.

       agora bench flash-sale [--json] [--users U] [--attempts A] [--units Q] [--clients N]
                              [--duration S] [--baseline-duration S]

  \`agora start\` in a child process with a flash sale of Q units (default 1,000): catalog reads
  alone for --duration S (default 5), then A purchases (default 100,000) by U users (default
  20,000) through the gateway from N clients (default 64) while the catalog is read; then every
  accepted ticket followed to its order; on DATABASE_URL also the same sale on a naive path (one
  row, select ... for update). --json: the last stdout line is { scenario, attemptsPerSec,
  sellOutMs, p50Ms, p99Ms, accepted, ordersCreated, oversold, undersold, catalogP99Ratio,
  baselineReqPerSec, naive: { attemptsPerSec, oversold } }.`;

/** What the CLI hands over: how to run its own entry point (the bench never imports the CLI). */
export interface BenchContext {
  launcher: NodeLauncher;
  agoraMain: string;
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

function intOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`--${name}`, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`--${name}`, `must be ${min}..${max}, got ${value}`);
  return value;
}

function parseBenchArgs(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      json: { type: 'boolean', default: false },
      buyers: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'baseline-duration': { type: 'string' },
      skus: { type: 'string' },
      'keep-database': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      'count-sql': { type: 'boolean', default: false },
      clients: { type: 'string' },
      before: { type: 'string' },
      'term-after': { type: 'string' },
      after: { type: 'string' },
      nodes: { type: 'string' },
      keys: { type: 'string' },
      products: { type: 'string' },
      entries: { type: 'string' },
      zipf: { type: 'string' },
      users: { type: 'string' },
      attempts: { type: 'string' },
      units: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
}

/** `agora bench <scenario> ...`; returns the process exit code. */
export async function runBenchCommand(argv: readonly string[], context: BenchContext): Promise<number> {
  let parsed: ReturnType<typeof parseBenchArgs>;
  try {
    parsed = parseBenchArgs(argv);
  } catch (err) {
    context.stderr(`${err instanceof Error ? err.message : String(err)}\n\n${BENCH_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    context.stdout(`${BENCH_USAGE}\n`);
    return 0;
  }
  if (positionals[0] === 'cache' && positionals.length === 1) {
    const products = intOption('products', values.products, 1_200, 1, CACHE_BENCH_LIMITS.productsMax);
    const zipf = values.zipf === undefined ? 1 : Number(values.zipf);
    if (!Number.isFinite(zipf) || zipf <= 0 || zipf > CACHE_BENCH_LIMITS.zipfExponentMax) {
      throw new ConfigError('--zipf', `must be a number in (0, ${CACHE_BENCH_LIMITS.zipfExponentMax}], got "${values.zipf}"`);
    }
    const report = await runCacheBench({
      clients: intOption('clients', values.clients, 32, 1, CACHE_BENCH_LIMITS.clientsMax),
      durationS: intOption('duration', values.duration, 10, 1, CACHE_BENCH_LIMITS.durationSMax),
      warmupS: intOption('warmup', values.warmup, 2, 0, CACHE_BENCH_LIMITS.durationSMax),
      baselineS: intOption('baseline-duration', values['baseline-duration'], 5, 1, CACHE_BENCH_LIMITS.durationSMax),
      products,
      // A tenth of the catalog, but never less than a page: a page's products must fit in L1 together.
      cacheEntries: intOption('entries', values.entries, Math.max(LIMITS.pageSizeDefault, Math.round(products / 10)), 1, CACHE_BENCH_LIMITS.productsMax),
      zipfExponent: zipf,
      env: context.env,
      launcher: context.launcher,
      agoraMain: context.agoraMain,
      progress: (line) => context.stderr(`bench: ${line}\n`),
    });
    context.stdout(`\n${formatCacheTable(report)}\n`);
    if (values.json) context.stdout(`${JSON.stringify(report)}\n`);
    return 0;
  }
  if (positionals[0] === 'flash-sale' && positionals.length === 1) {
    const report = await runFlashSaleBench({
      users: intOption('users', values.users, 20_000, 1, FLASH_SALE_BENCH_LIMITS.usersMax),
      attempts: intOption('attempts', values.attempts, 100_000, 1, FLASH_SALE_BENCH_LIMITS.attemptsMax),
      units: intOption('units', values.units, 1_000, 1, FLASH_SALE_BENCH_LIMITS.unitsMax),
      clients: intOption('clients', values.clients, 64, 1, FLASH_SALE_BENCH_LIMITS.clientsMax),
      catalogS: intOption('duration', values.duration, 5, 1, FLASH_SALE_BENCH_LIMITS.durationSMax),
      baselineS: intOption('baseline-duration', values['baseline-duration'], 5, 1, FLASH_SALE_BENCH_LIMITS.durationSMax),
      env: context.env,
      launcher: context.launcher,
      agoraMain: context.agoraMain,
      progress: (line) => context.stderr(`bench: ${line}\n`),
    });
    context.stdout(`\n${formatFlashSaleTable(report)}\n`);
    if (values.json) context.stdout(`${JSON.stringify(report)}\n`);
    return 0;
  }
  if (positionals[0] === 'ring' && positionals.length === 1) {
    const report = runRingBench({
      nodes: intOption('nodes', values.nodes, 10, 1, RING_BENCH_LIMITS.nodesMax),
      keys: intOption('keys', values.keys, 1_000_000, 1, RING_BENCH_LIMITS.keysMax),
      progress: (line) => context.stderr(`bench: ${line}\n`),
    });
    context.stdout(`\n${formatRingTable(report)}\n`);
    if (values.json) context.stdout(`${JSON.stringify(report)}\n`);
    return 0;
  }
  if (positionals[0] === 'failover' && positionals.length === 1) {
    const env = new EnvReader(context.env);
    env.url('DATABASE_URL', ['postgres:', 'postgresql:']);
    env.url('REDIS_URL', ['redis:', 'rediss:']);
    env.url('NATS_URL', ['nats:', 'tls:']);
    const report = await runFailoverBench({
      clients: intOption('clients', values.clients, 16, 1, FAILOVER_BENCH_LIMITS.clientsMax),
      warmupS: intOption('warmup', values.warmup, 5, 0, FAILOVER_BENCH_LIMITS.phaseSMax),
      beforeS: intOption('before', values.before, 5, 1, FAILOVER_BENCH_LIMITS.phaseSMax),
      termAfterS: intOption('term-after', values['term-after'], 3, 0, FAILOVER_BENCH_LIMITS.phaseSMax),
      afterS: intOption('after', values.after, 5, 1, FAILOVER_BENCH_LIMITS.phaseSMax),
      keepDatabase: values['keep-database'],
      env: context.env,
      launcher: context.launcher,
      agoraMain: context.agoraMain,
      progress: (line) => context.stderr(`bench: ${line}\n`),
    });
    const file = writeFailoverResult(report);
    context.stdout(`\n${formatFailoverTable(report)}\n\n  JSON written to ${file}\n`);
    if (values.json) context.stdout(`${JSON.stringify(report)}\n`);
    return 0;
  }
  if (positionals[0] !== 'checkout' || positionals.length > 1) {
    context.stderr(`${positionals[0] === undefined ? 'which scenario?' : `unknown scenario "${positionals.join(' ')}"`}\n\n${BENCH_USAGE}\n`);
    return 2;
  }
  // Validated here, so a bad URL stops the bench before any server starts.
  new EnvReader(context.env).url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const report = await runCheckoutBench({
    buyers: intOption('buyers', values.buyers, 50, 1, CHECKOUT_BENCH_LIMITS.buyersMax),
    durationS: intOption('duration', values.duration, 20, 1, CHECKOUT_BENCH_LIMITS.durationSMax),
    warmupS: intOption('warmup', values.warmup, 3, 0, CHECKOUT_BENCH_LIMITS.warmupSMax),
    baselineS: intOption('baseline-duration', values['baseline-duration'], 5, 1, CHECKOUT_BENCH_LIMITS.durationSMax),
    skus: intOption('skus', values.skus, 10, 1, CHECKOUT_BENCH_LIMITS.skusMax),
    keepDatabase: values['keep-database'],
    ...(values['cpu-prof'] ? { cpuProfileDir: join(RESULTS_DIR, 'profiles') } : {}),
    countSql: values['count-sql'],
    env: context.env,
    launcher: context.launcher,
    agoraMain: context.agoraMain,
    progress: (line) => context.stderr(`bench: ${line}\n`),
  });
  const file = writeResult(report);
  const profiled = values['cpu-prof'] ? `  server CPU profile (.cpuprofile) written to ${join(RESULTS_DIR, 'profiles')}\n` : '';
  context.stdout(`\n${formatCheckoutTable(report)}\n\n  JSON written to ${file}\n${profiled}`);
  if (values.json) context.stdout(`${JSON.stringify(report)}\n`);
  return 0;
}
