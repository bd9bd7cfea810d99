import { randomBytes, randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { TokenService } from '@agora/platform';
import { runBaseline } from './baseline.js';
import { ServerProcess, type NodeLauncher } from './child.js';
import { prepareRunStorage } from './database.js';
import { LoopbackClient, problemCode } from './http.js';
import { LOAD_LIMITS } from './load.js';
import { Samples, round } from './stats.js';

export const FLASH_SALE_BENCH_LIMITS = {
  usersMax: 1_000_000,
  attemptsMax: 10_000_000,
  unitsMax: 1_000_000,
  clientsMax: 1_000,
  durationSMax: 600,
  /** How long the run waits for every accepted ticket to become an order. */
  ordersWaitMs: 120_000,
  ordersPollMs: 250,
  /** Connections of the naive path's pool (a PostgreSQL server's budget is shared). */
  naivePoolMax: 10,
  /** Clients reading the catalog before and during the sale. */
  catalogClients: 4,
} as const;

const ADMIN = { email: 'bench-admin@agora.local', password: `bench-${randomBytes(9).toString('base64url')}` };

export interface FlashSaleBenchOptions {
  users: number;
  attempts: number;
  units: number;
  clients: number;
  baselineS: number;
  /** Seconds of catalog reads before the sale (the reference p99). */
  catalogS: number;
  env: NodeJS.ProcessEnv;
  launcher: NodeLauncher;
  agoraMain: string;
  progress: (line: string) => void;
}

export interface FlashSaleReport {
  scenario: 'flash-sale';
  attemptsPerSec: number;
  /** From the first attempt until the last unit was accepted (null: not sold out). */
  sellOutMs: number | null;
  p50Ms: number;
  p99Ms: number;
  accepted: number;
  ordersCreated: number;
  oversold: number;
  undersold: number;
  /** Catalog p99 during the sale ÷ before it (the target: <= 2). */
  catalogP99Ratio: number;
  baselineReqPerSec: number;
  naive: { attemptsPerSec: number | null; oversold: number | null };
  answers: Record<string, number>;
  catalogP99MsBefore: number;
  catalogP99MsDuring: number;
  users: number;
  attempts: number;
  units: number;
  clients: number;
  storage: 'postgres' | 'embedded';
  machine: { cpus: number; model: string; node: string; loadAverage1mBefore: number };
  startedAt: string;
}

function expectStatus(result: { status: number; body: unknown }, status: number, what: string): void {
  if (result.status !== status) throw new Error(`${what} answered ${result.status}: ${JSON.stringify(result.body)}`);
}

function field<T>(body: unknown, name: string): T {
  return (body as Record<string, T>)[name] as T;
}

/** The sale's SKU and the products the catalog readers ask for. */
async function setUp(http: LoopbackClient, units: number): Promise<{ adminToken: string; saleId: string; productIds: string[] }> {
  const login = await http.request('POST', '/api/v1/auth/login', { body: ADMIN, parse: true });
  expectStatus(login, 200, 'admin login');
  const adminToken = field<string>(login.body, 'token');
  const sku = `FLASH-${randomBytes(4).toString('hex')}`;
  const product = await http.request('POST', '/api/v1/admin/products', {
    token: adminToken,
    parse: true,
    body: { name: 'Flash Widget', description: 'What the flash-sale benchmark sells', category: 'bench', variants: [{ sku, title: 'One', price: { amount: 4999, currency: 'USD' } }] },
  });
  expectStatus(product, 201, 'creating the product');
  expectStatus(await http.request('PUT', `/api/v1/admin/inventory/${sku}`, { token: adminToken, body: { onHand: units }, parse: true }), 200, 'stocking the SKU');
  const startsAt = new Date(Date.now() - 1_000).toISOString();
  const endsAt = new Date(Date.now() + 3_600_000).toISOString();
  const sale = await http.request('POST', '/api/v1/admin/flash-sales', {
    token: adminToken,
    parse: true,
    body: { sku, quantity: units, price: { amount: 1999, currency: 'USD' }, startsAt, endsAt, perUserLimit: 1 },
  });
  expectStatus(sale, 201, 'creating the sale');
  const page = await http.request('GET', '/api/v1/products?limit=20', { parse: true });
  expectStatus(page, 200, 'listing products');
  const productIds = field<{ id: string }[]>(page.body, 'items').map((p) => p.id);
  return { adminToken, saleId: field<string>(sale.body, 'id'), productIds };
}

/** Catalog reads by a few clients until `until` settles; their latencies. */
function catalogReads(http: LoopbackClient, productIds: readonly string[], until: Promise<unknown>): Promise<Samples> {
  const samples = new Samples(LOAD_LIMITS.maxSamples);
  let done = false;
  void until.finally(() => (done = true));
  const lane = async (): Promise<void> => {
    let i = 0;
    while (!done) {
      const answer = await http.request('GET', `/api/v1/products/${productIds[i++ % productIds.length] ?? ''}`);
      if (answer.status === 200) samples.add(answer.ms);
    }
  };
  return Promise.all(Array.from({ length: FLASH_SALE_BENCH_LIMITS.catalogClients }, lane)).then(() => samples);
}

/** `attempts` purchases by `clients` clients, each by a random user with a fresh Idempotency-Key. */
async function stampede(http: LoopbackClient, saleId: string, tokens: readonly string[], options: FlashSaleBenchOptions) {
  const latency = new Samples(LOAD_LIMITS.maxSamples);
  const answers: Record<string, number> = {};
  let next = 0;
  let accepted = 0;
  let soldOutAt: number | null = null;
  const began = performance.now();
  const lane = async (): Promise<void> => {
    while (next < options.attempts) {
      next += 1;
      const token = tokens[Math.floor(Math.random() * tokens.length)] as string;
      const answer = await http.request('POST', `/api/v1/flash-sales/${saleId}/purchase`, { token, body: { quantity: 1 }, headers: { 'idempotency-key': randomUUID() } });
      latency.add(answer.ms);
      const kind = answer.status === 202 ? '202' : `${answer.status} ${problemCode(answer.body) ?? ''}`.trim();
      answers[kind] = (answers[kind] ?? 0) + 1;
      if (answer.status === 202 && ++accepted === options.units) soldOutAt = performance.now() - began;
    }
  };
  await Promise.all(Array.from({ length: options.clients }, lane));
  return { latency, answers, accepted, sellOutMs: soldOutAt, elapsedS: (performance.now() - began) / 1000 };
}

/** Waits until every accepted ticket is decided in the database; the units that became orders. */
async function ordersCreated(http: LoopbackClient, adminToken: string, saleId: string, accepted: number): Promise<number> {
  const deadline = Date.now() + FLASH_SALE_BENCH_LIMITS.ordersWaitMs;
  for (;;) {
    const stats = await http.request('GET', `/api/v1/admin/flash-sales/${saleId}`, { token: adminToken, parse: true });
    expectStatus(stats, 200, 'reading the sale');
    const ordered = field<number>(stats.body, 'ordered');
    const decided = ordered + field<number>(stats.body, 'expired');
    if (decided >= accepted || Date.now() > deadline) return ordered;
    await sleep(FLASH_SALE_BENCH_LIMITS.ordersPollMs);
  }
}

/** The same sale on one PostgreSQL row: `select ... for update`, then decrement, per attempt. */
async function naivePath(url: string, options: FlashSaleBenchOptions): Promise<{ attemptsPerSec: number; oversold: number }> {
  const pool = new pg.Pool({ connectionString: url, max: Math.min(options.clients, FLASH_SALE_BENCH_LIMITS.naivePoolMax) });
  try {
    await pool.query('create table naive_sale (id int primary key, remaining int not null, sold int not null)');
    await pool.query('insert into naive_sale values (1, $1, 0)', [options.units]);
    let next = 0;
    const began = performance.now();
    const lane = async (): Promise<void> => {
      while (next < options.attempts) {
        next += 1;
        const client = await pool.connect();
        try {
          await client.query('begin');
          const { rows } = await client.query<{ remaining: number }>('select remaining from naive_sale where id = 1 for update');
          if ((rows[0]?.remaining ?? 0) >= 1) await client.query('update naive_sale set remaining = remaining - 1, sold = sold + 1 where id = 1');
          await client.query('commit');
        } finally {
          client.release();
        }
      }
    };
    await Promise.all(Array.from({ length: options.clients }, lane));
    const elapsedS = (performance.now() - began) / 1000;
    const { rows } = await pool.query<{ sold: number }>('select sold from naive_sale where id = 1');
    return { attemptsPerSec: round(options.attempts / elapsedS, 0), oversold: Math.max(0, (rows[0]?.sold ?? 0) - options.units) };
  } finally {
    await pool.end();
  }
}

/**
 * `agora bench flash-sale`: the same run's bare-Fastify baseline; `agora start` in a child process
 * with a sale of Q units; catalog reads alone (the reference p99), then A purchases by U users
 * (tokens signed with the run's secret, no registration) through the gateway while the catalog is
 * read; then the accepted tickets followed to orders; then, on PostgreSQL, the same sale on a
 * naive path (one row, `select ... for update`) for comparison.
 */
export async function runFlashSaleBench(options: FlashSaleBenchOptions): Promise<FlashSaleReport> {
  const startedAt = new Date().toISOString();
  const loadAverage1mBefore = round(loadavg()[0] ?? Number.NaN, 2);
  const cleanups: (() => Promise<void>)[] = [];
  try {
    options.progress(`baseline: bare Fastify, ${options.clients} connections, ${options.baselineS} s`);
    const baseline = await runBaseline({ launcher: options.launcher, connections: options.clients, durationS: options.baselineS });
    const { database, dataDir } = await prepareRunStorage({ env: options.env, dataDirPrefix: 'agora-bench-flash-', progress: options.progress, cleanups });
    const secret = randomBytes(48).toString('base64url');
    const env: NodeJS.ProcessEnv = {
      ...options.env,
      PORT: '0',
      HOST: '127.0.0.1',
      AGORA_DATA_DIR: dataDir,
      AGORA_RATE_LIMITS: 'off',
      AGORA_LOG_LEVEL: 'warn',
      AGORA_SEED: 'on',
      AGORA_DEMO_PRODUCTS: '100',
      AGORA_ADMIN_EMAIL: ADMIN.email,
      AGORA_ADMIN_PASSWORD: ADMIN.password,
      AGORA_JWT_SECRET: secret,
      ...(database ? { DATABASE_URL: database.url } : {}),
    };
    const { server, port } = await ServerProcess.start('agora start', options.launcher, options.agoraMain, ['start'], env, /running at http:\/\/localhost:(\d+)/);
    cleanups.push(async () => void (await server.stop()));
    const http = new LoopbackClient(`http://127.0.0.1:${port}`, options.clients + FLASH_SALE_BENCH_LIMITS.catalogClients);
    cleanups.push(() => http.close());
    const { adminToken, saleId, productIds } = await setUp(http, options.units);
    const signer = new TokenService(secret);
    const tokens = await Promise.all(Array.from({ length: options.users }, (_, i) => signer.sign({ sub: randomUUID(), role: 'customer', email: `buyer-${i}@bench.agora.local` })));
    options.progress(`catalog reads alone, ${options.catalogS} s`);
    const before = await catalogReads(http, productIds, sleep(options.catalogS * 1000));
    options.progress(`sale: ${options.attempts} attempts by ${options.users} users, ${options.clients} clients, ${options.units} units`);
    const sale = stampede(http, saleId, tokens, options);
    const [during, run] = await Promise.all([catalogReads(http, productIds, sale), sale]);
    options.progress('waiting for every accepted ticket to be decided');
    const ordered = await ordersCreated(http, adminToken, saleId, run.accepted);
    const refusedSoldOut = (run.answers['409 SOLD_OUT'] ?? 0) > 0;
    const naive = database ? await naivePath(database.url, options) : { attemptsPerSec: null, oversold: null };
    const latency = run.latency.summary();
    const catalogBefore = before.summary().p99Ms;
    const catalogDuring = during.summary().p99Ms;
    return {
      scenario: 'flash-sale',
      attemptsPerSec: round(options.attempts / run.elapsedS, 0),
      sellOutMs: run.sellOutMs === null ? null : round(run.sellOutMs, 0),
      p50Ms: round(latency.p50Ms, 2),
      p99Ms: round(latency.p99Ms, 2),
      accepted: run.accepted,
      ordersCreated: ordered,
      oversold: Math.max(0, ordered - options.units),
      undersold: refusedSoldOut ? Math.max(0, options.units - ordered) : 0,
      catalogP99Ratio: round(catalogDuring / catalogBefore, 2),
      baselineReqPerSec: round(baseline.reqPerSec, 0),
      naive,
      answers: run.answers,
      catalogP99MsBefore: round(catalogBefore, 2),
      catalogP99MsDuring: round(catalogDuring, 2),
      users: options.users,
      attempts: options.attempts,
      units: options.units,
      clients: options.clients,
      storage: database ? 'postgres' : 'embedded',
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage1mBefore },
      startedAt,
    };
  } finally {
    for (const step of cleanups.reverse()) await step().catch((err: unknown) => options.progress(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`));
  }
}

export function formatFlashSaleTable(r: FlashSaleReport): string {
  const row = (label: string, value: string) => `  ${label.padEnd(40)}${value}`;
  return [
    row('scenario', 'flash-sale (purchases through the gateway of `agora start`)'),
    row('storage / users / attempts / units', `${r.storage} / ${r.users} / ${r.attempts} / ${r.units}`),
    row('attempts/s', `${r.attemptsPerSec} (p50 ${r.p50Ms} / p99 ${r.p99Ms} ms) = ${round(r.attemptsPerSec / r.baselineReqPerSec, 3)} of bare Fastify`),
    row('time to sell out', r.sellOutMs === null ? 'not sold out' : `${r.sellOutMs} ms`),
    row('accepted / orders created', `${r.accepted} / ${r.ordersCreated}`),
    row('oversold / undersold', `${r.oversold} / ${r.undersold}`),
    row('catalog p99 before / during the sale', `${r.catalogP99MsBefore} / ${r.catalogP99MsDuring} ms (x${r.catalogP99Ratio})`),
    row('naive path (one row, for update)', r.naive.attemptsPerSec === null ? 'needs DATABASE_URL' : `${r.naive.attemptsPerSec} attempts/s, oversold ${r.naive.oversold}`),
    row('answers', JSON.stringify(r.answers)),
    row('baseline (bare Fastify) req/s', String(r.baselineReqPerSec)),
    row('machine load average before the run', String(r.machine.loadAverage1mBefore)),
  ].join('\n');
}
