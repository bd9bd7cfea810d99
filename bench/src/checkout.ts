import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runBaseline, type BaselineResult } from './baseline.js';
import { ServerProcess, type NodeLauncher } from './child.js';
import { prepareRunStorage } from './database.js';
import { LoopbackClient, mapLimit, problemCode } from './http.js';
import { closedLoop, type Outcome, type PhaseResult } from './load.js';
import { backendsCpuDelta, databaseBackendsCpu, machineBusyCpuSeconds } from './proc.js';
import type { SqlCounts } from './profile/count-sql.js';
import { round } from './stats.js';

/** Loaded into the server with --import by --count-sql (.ts under tsx, .js once built). */
const COUNT_SQL_MODULE = new URL(import.meta.url.endsWith('.ts') ? './profile/count-sql.ts' : './profile/count-sql.js', import.meta.url).href;

export const CHECKOUT_BENCH_LIMITS = {
  buyersMax: 1_000,
  durationSMax: 600,
  warmupSMax: 120,
  skusMax: 50,
  /** Stock per SKU: far more than any run can sell, so no checkout is refused for stock. */
  stockPerSku: 10_000_000,
  /** Registrations in flight at once (scrypt makes each one cost ~50 ms of a CPU). */
  registrationConcurrency: 4,
  /** Before the idle RSS is read, the server gets this long to settle after setup. */
  settleMs: 1_000,
} as const;

export interface CheckoutBenchOptions {
  buyers: number;
  durationS: number;
  warmupS: number;
  baselineS: number;
  /** Distinct SKUs the buyers spread over (buyer i buys SKU i mod skus); 1 = everyone on one hot row. */
  skus: number;
  /** Keep the run's PostgreSQL database instead of dropping it (to inspect it afterwards). */
  keepDatabase: boolean;
  /** Write the server's V8 CPU profile (`node --cpu-prof`) into this directory. */
  cpuProfileDir?: string;
  /** Count the server's SQL statements (PostgreSQL only; see profile/count-sql.ts). */
  countSql?: boolean;
  /** The caller's environment: DATABASE_URL, <SERVICE>_DATABASE_URL, NATS_URL, AGORA_DB_POOL_MAX, ... */
  env: NodeJS.ProcessEnv;
  launcher: NodeLauncher;
  /** The CLI entry point whose `start` command is the system under test. */
  agoraMain: string;
  /** Progress lines (the CLI sends them to stderr, so stdout stays the table and the JSON). */
  progress: (line: string) => void;
}

export interface CheckoutReport {
  scenario: 'checkout';
  checkoutsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  baselineReqPerSec: number;
  ratio: number;
  checkouts: number;
  buyers: number;
  durationS: number;
  warmupS: number;
  skus: number;
  storage: 'postgres' | 'embedded';
  p90Ms: number;
  maxMs: number;
  meanMs: number;
  addToCartP50Ms: number;
  addToCartP99Ms: number;
  checkoutCallP50Ms: number;
  checkoutCallP99Ms: number;
  errorKinds: Record<string, number>;
  rssStartMb: number | null;
  rssIdleMb: number | null;
  rssEndMb: number | null;
  rssPeakMb: number | null;
  /** CPU the server process used during the measured phase, in % of one core. */
  serverCpuPct: number | null;
  serverCpuMsPerCheckout: number | null;
  /** Every core of the machine busy during the measured phase, in % of one core (2 cores = 200 %). */
  machineCpuPct: number | null;
  loadGeneratorCpuPct: number;
  /** PostgreSQL backends serving the run's database (when the server is local), in % of one core. */
  databaseCpuPct: number | null;
  databaseCpuMsPerCheckout: number | null;
  /** Units of stock gone from the SKUs (warm-up included)... */
  unitsSold: number | null;
  /** ...against the units of the orders the successful checkouts answered with: equal, or stock leaked. */
  unitsOrdered: number;
  checkoutsIncludingWarmup: number;
  /** Checkouts answered 202 (accepted, saga still running) rather than 201; counted as successes. */
  accepted202: number;
  baseline: { reqPerSec: number; p50Ms: number; p99Ms: number; durationS: number; errors: number };
  serverExitCode: number | null;
  /** With --count-sql: statements and explicit transactions per checkout (warm-up + measured), and the most frequent statements. */
  sql: { statementsPerCheckout: number; transactionsPerCheckout: number; autocommitWritesPerCheckout: number; top: Record<string, number> } | null;
  machine: { cpus: number; model: string; node: string; loadAverage1mBefore: number };
  startedAt: string;
}

const ADMIN = { email: 'bench-admin@agora.local', password: `bench-${randomBytes(9).toString('base64url')}` };

const CHECKOUT_BODY = {
  payment: { method: 'card', token: 'tok_visa' },
  shippingAddress: { name: 'Bench Buyer', line1: '1 Load Street', city: 'Benchville', postalCode: '10001', country: 'US' },
};

interface Buyer {
  token: string;
  sku: string;
  checkouts: number;
}

function expectStatus(result: { status: number; body: unknown }, status: number, what: string): void {
  if (result.status !== status) throw new Error(`${what} answered ${result.status}: ${JSON.stringify(result.body)}`);
}

function field<T>(body: unknown, ...path: string[]): T {
  let current: unknown = body;
  for (const name of path) current = typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[name] : undefined;
  if (current === undefined) throw new Error(`the answer has no ${path.join('.')}: ${JSON.stringify(body)}`);
  return current as T;
}

/** One error kind per failing call: which call, its status and its problem code. */
function failure(call: string, result: { status: number; body: unknown }): Outcome {
  return { ok: false, kind: `${call} ${result.status}${problemCode(result.body) ? ` ${problemCode(result.body)}` : ''}` };
}

async function setUp(http: LoopbackClient, options: CheckoutBenchOptions): Promise<{ buyers: Buyer[]; skus: string[] }> {
  const login = await http.request('POST', '/api/v1/auth/login', { body: ADMIN, parse: true });
  expectStatus(login, 200, 'admin login');
  const adminToken = field<string>(login.body, 'token');
  const runTag = randomBytes(4).toString('hex');
  const skus = Array.from({ length: options.skus }, (_, i) => `BENCH-${runTag}-${i + 1}`);
  const product = await http.request('POST', '/api/v1/admin/products', {
    token: adminToken,
    parse: true,
    body: {
      name: 'Bench Widget',
      description: 'A product the checkout benchmark buys',
      category: 'bench',
      variants: skus.map((sku, i) => ({ sku, title: `Variant ${i + 1}`, price: { amount: 1999, currency: 'USD' } })),
    },
  });
  expectStatus(product, 201, 'creating the product');
  for (const sku of skus) {
    expectStatus(await http.request('PUT', `/api/v1/admin/inventory/${sku}`, { token: adminToken, body: { onHand: CHECKOUT_BENCH_LIMITS.stockPerSku }, parse: true }), 200, `stocking ${sku}`);
  }
  const buyers = await mapLimit(
    Array.from({ length: options.buyers }, (_, i) => i),
    CHECKOUT_BENCH_LIMITS.registrationConcurrency,
    async (i) => {
      const registered = await http.request('POST', '/api/v1/auth/register', {
        parse: true,
        body: { email: `buyer-${runTag}-${i}@bench.agora.local`, password: `buyer-password-${runTag}`, name: `Buyer ${i}` },
      });
      expectStatus(registered, 201, `registering buyer ${i}`);
      return { token: field<string>(registered.body, 'token'), sku: skus[i % skus.length] as string, checkouts: 0 };
    },
  );
  return { buyers, skus };
}

/** What the checkouts that succeeded bought, from their answers: the stock check compares it with the stock. */
interface Tally {
  unitsOrdered: number;
  /** 202: the order was accepted but its checkout was still running when the answer left. */
  accepted: number;
}

function orderedUnits(order: unknown): number {
  const lines = typeof order === 'object' && order !== null && 'lines' in order ? (order as { lines: unknown }).lines : undefined;
  if (!Array.isArray(lines)) throw new Error(`a checkout answered without order lines: ${JSON.stringify(order)}`);
  return lines.reduce<number>((sum, line: { quantity?: unknown }) => sum + (typeof line.quantity === 'number' ? line.quantity : 0), 0);
}

/** add-to-cart + checkout, as one shopper does it; the pair is one checkout. */
function checkoutIteration(http: LoopbackClient, buyers: Buyer[], runId: string, tally: Tally): (client: number) => Promise<Outcome> {
  return async (client) => {
    const buyer = buyers[client];
    if (!buyer) throw new Error(`no buyer ${client}`);
    const began = performance.now();
    const add = await http.request('POST', '/api/v1/cart/items', { token: buyer.token, body: { sku: buyer.sku, quantity: 1 } });
    if (add.status < 200 || add.status > 299) return failure('addToCart', add);
    buyer.checkouts += 1;
    const checkout = await http.request('POST', '/api/v1/checkout', {
      token: buyer.token,
      headers: { 'idempotency-key': `${runId}-${client}-${buyer.checkouts}` },
      body: CHECKOUT_BODY,
      parse: true,
    });
    if (checkout.status < 200 || checkout.status > 299) return failure('checkout', checkout);
    tally.unitsOrdered += orderedUnits(checkout.body);
    if (checkout.status === 202) tally.accepted += 1;
    return { ok: true, ms: performance.now() - began, parts: { addToCart: add.ms, checkout: checkout.ms } };
  };
}

async function unitsSold(http: LoopbackClient, skus: readonly string[]): Promise<number | null> {
  let sold = 0;
  for (const sku of skus) {
    const answer = await http.request('GET', `/api/v1/inventory/${sku}`, { parse: true });
    if (answer.status !== 200) return null;
    sold += CHECKOUT_BENCH_LIMITS.stockPerSku - field<number>(answer.body, 'available');
  }
  return sold;
}

function nullable(value: number | undefined, digits = 1): number | null {
  return value === undefined || !Number.isFinite(value) ? null : round(value, digits);
}

/**
 * `agora bench checkout`: the same-run baseline (bare Fastify), then `agora start` in a child
 * process on a fresh database, N buyers registered through the API, a warm-up, and the measured
 * phase of add-to-cart + checkout loops.
 */
export async function runCheckoutBench(options: CheckoutBenchOptions): Promise<CheckoutReport> {
  const startedAt = new Date().toISOString();
  const loadAverage1mBefore = round(loadavg()[0] ?? Number.NaN, 2);
  const cleanups: (() => Promise<void>)[] = [];
  const cleanUp = async () => {
    for (const step of cleanups.splice(0).reverse()) {
      await step().catch((err: unknown) => options.progress(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`));
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    options.progress(`${signal}: stopping the servers and removing the run's data`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    options.progress(`baseline: bare Fastify, ${options.buyers} connections, ${options.baselineS} s`);
    const baseline: BaselineResult = await runBaseline({ launcher: options.launcher, connections: options.buyers, durationS: options.baselineS });

    const { database, dataDir } = await prepareRunStorage({ env: options.env, dataDirPrefix: 'agora-bench-', keepDatabase: options.keepDatabase, progress: options.progress, cleanups });

    const env: NodeJS.ProcessEnv = {
      ...options.env,
      PORT: '0',
      HOST: '127.0.0.1',
      AGORA_DATA_DIR: dataDir,
      AGORA_RATE_LIMITS: 'off',
      AGORA_LOG_LEVEL: 'warn',
      AGORA_SEED: 'off',
      AGORA_ADMIN_EMAIL: ADMIN.email,
      AGORA_ADMIN_PASSWORD: ADMIN.password,
      AGORA_JWT_SECRET: randomBytes(48).toString('base64url'),
      ...(database ? { DATABASE_URL: database.url } : {}),
    };
    options.progress('starting `agora start` in a child process');
    const sqlCountFile = options.countSql && database ? join(dataDir, 'sql-counts.json') : undefined;
    if (options.countSql && !database) options.progress('--count-sql counts statements sent through pg: PostgreSQL only, skipped');
    const launcher: NodeLauncher = {
      node: options.launcher.node,
      nodeArgs: [
        ...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []),
        ...options.launcher.nodeArgs,
        ...(sqlCountFile ? ['--import', COUNT_SQL_MODULE] : []),
      ],
    };
    if (sqlCountFile) env.AGORA_BENCH_SQL_COUNT_FILE = sqlCountFile;
    const { server, port } = await ServerProcess.start('agora start', launcher, options.agoraMain, ['start'], env, /running at http:\/\/localhost:(\d+)/);
    let serverStopped = false;
    let serverExitCode: number | null = null;
    let sqlCounts: SqlCounts | undefined;
    cleanups.push(async () => {
      if (serverStopped) return;
      serverStopped = true;
      serverExitCode = await server.stop();
      if (sqlCountFile && existsSync(sqlCountFile)) sqlCounts = JSON.parse(readFileSync(sqlCountFile, 'utf8')) as SqlCounts;
    });
    const rssStart = server.memory();
    const http = new LoopbackClient(`http://127.0.0.1:${port}`, options.buyers);
    cleanups.push(() => http.close());

    options.progress(`setup: ${options.skus} SKU(s) with ${CHECKOUT_BENCH_LIMITS.stockPerSku} units each, ${options.buyers} buyers registering`);
    const { buyers, skus } = await setUp(http, options);
    await sleep(CHECKOUT_BENCH_LIMITS.settleMs);
    const rssIdle = server.memory();

    const runId = randomBytes(6).toString('hex');
    if (sqlCountFile && server.pid !== undefined) process.kill(server.pid, 'SIGUSR2');
    const tally: Tally = { unitsOrdered: 0, accepted: 0 };
    const iteration = checkoutIteration(http, buyers, runId, tally);
    options.progress(`warm-up: ${options.warmupS} s`);
    const warmup = await closedLoop(options.buyers, options.warmupS * 1000, iteration);

    options.progress(`measuring: ${options.buyers} buyers, ${options.durationS} s`);
    const backends = () => (database ? databaseBackendsCpu(database.name) : new Map<number, number>());
    const cpuBefore = { server: server.cpuSeconds(), machine: machineBusyCpuSeconds(), self: process.cpuUsage(), database: backends() };
    const measured: PhaseResult = await closedLoop(options.buyers, options.durationS * 1000, iteration);
    const cpuAfter = { server: server.cpuSeconds(), machine: machineBusyCpuSeconds(), self: process.cpuUsage(cpuBefore.self), database: backends() };
    const databaseCpu = cpuAfter.database.size > 0 ? backendsCpuDelta(cpuBefore.database, cpuAfter.database) : undefined;
    const rssEnd = server.memory();
    const sold = await unitsSold(http, skus);

    await cleanUp();
    const latency = measured.latency.summary();
    const add = measured.parts.get('addToCart')?.summary();
    const call = measured.parts.get('checkout')?.summary();
    const checkoutsPerSec = measured.ok / measured.elapsedS;
    const serverCpu = cpuBefore.server !== undefined && cpuAfter.server !== undefined ? cpuAfter.server - cpuBefore.server : undefined;
    const machineCpu = cpuBefore.machine !== undefined && cpuAfter.machine !== undefined ? cpuAfter.machine - cpuBefore.machine : undefined;
    const cpuModel = cpus()[0]?.model ?? 'unknown';
    return {
      scenario: 'checkout',
      checkoutsPerSec: round(checkoutsPerSec, 1),
      p50Ms: round(latency.p50Ms, 1),
      p99Ms: round(latency.p99Ms, 1),
      errors: measured.errors,
      baselineReqPerSec: round(baseline.reqPerSec, 0),
      ratio: Number((checkoutsPerSec / baseline.reqPerSec).toPrecision(3)),
      checkouts: measured.ok,
      buyers: options.buyers,
      durationS: round(measured.elapsedS, 2),
      warmupS: options.warmupS,
      skus: options.skus,
      storage: database ? 'postgres' : 'embedded',
      p90Ms: round(latency.p90Ms, 1),
      maxMs: round(latency.maxMs, 1),
      meanMs: round(latency.meanMs, 1),
      addToCartP50Ms: round(add?.p50Ms ?? Number.NaN, 1),
      addToCartP99Ms: round(add?.p99Ms ?? Number.NaN, 1),
      checkoutCallP50Ms: round(call?.p50Ms ?? Number.NaN, 1),
      checkoutCallP99Ms: round(call?.p99Ms ?? Number.NaN, 1),
      errorKinds: { ...warmupErrors(warmup), ...measured.errorKinds },
      rssStartMb: nullable(rssStart?.rssMb, 0),
      rssIdleMb: nullable(rssIdle?.rssMb, 0),
      rssEndMb: nullable(rssEnd?.rssMb, 0),
      rssPeakMb: nullable(rssEnd?.peakRssMb, 0),
      serverCpuPct: nullable(serverCpu === undefined ? undefined : (serverCpu / measured.elapsedS) * 100, 0),
      serverCpuMsPerCheckout: nullable(serverCpu === undefined || measured.ok === 0 ? undefined : (serverCpu * 1000) / measured.ok, 2),
      machineCpuPct: nullable(machineCpu === undefined ? undefined : (machineCpu / measured.elapsedS) * 100, 0),
      databaseCpuPct: nullable(databaseCpu === undefined ? undefined : (databaseCpu / measured.elapsedS) * 100, 0),
      databaseCpuMsPerCheckout: nullable(databaseCpu === undefined || measured.ok === 0 ? undefined : (databaseCpu * 1000) / measured.ok, 2),
      loadGeneratorCpuPct: round(((cpuAfter.self.user + cpuAfter.self.system) / 1e6 / measured.elapsedS) * 100, 0),
      unitsSold: sold,
      unitsOrdered: tally.unitsOrdered,
      checkoutsIncludingWarmup: warmup.ok + measured.ok,
      accepted202: tally.accepted,
      baseline: { reqPerSec: round(baseline.reqPerSec, 0), p50Ms: round(baseline.p50Ms, 2), p99Ms: round(baseline.p99Ms, 2), durationS: round(baseline.durationS, 2), errors: baseline.errors },
      serverExitCode,
      sql: sqlSummary(sqlCounts, warmup.ok + measured.ok),
      machine: { cpus: cpus().length, model: cpuModel, node: process.version, loadAverage1mBefore },
      startedAt,
    };
  } finally {
    await cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const SQL_TOP_STATEMENTS = 25;

function sqlSummary(counts: SqlCounts | undefined, checkouts: number): CheckoutReport['sql'] {
  if (!counts || checkouts === 0) return null;
  return {
    statementsPerCheckout: round(counts.statements / checkouts, 1),
    transactionsPerCheckout: round(counts.transactions / checkouts, 1),
    autocommitWritesPerCheckout: round(counts.autocommitWrites / checkouts, 1),
    top: Object.fromEntries(Object.entries(counts.byText).slice(0, SQL_TOP_STATEMENTS)),
  };
}

/** Warm-up errors are reported too (prefixed), though only the measured phase's count in `errors`. */
function warmupErrors(warmup: PhaseResult): Record<string, number> {
  return Object.fromEntries(Object.entries(warmup.errorKinds).map(([kind, n]) => [`warm-up ${kind}`, n]));
}
