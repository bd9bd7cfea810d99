import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '@agora/kernel';
import type { NodeLauncher } from './child.js';
import { createRunDatabase } from './database.js';
import { LoopbackClient, problemCode } from './http.js';
import { ProcessCluster, baseEnvironment, type ClusterView } from './process-cluster.js';
import { RESULTS_DIR } from './report.js';
import { Samples, round, type LatencySummary } from './stats.js';

export const FAILOVER_BENCH_LIMITS = {
  clientsMax: 256,
  phaseSMax: 120,
  /** Requests of one run at most, whatever the durations (a bound on memory and on the run). */
  maxRequests: 2_000_000,
  /** The SIGKILLed instance must be seen down within this, or the run gives up waiting. */
  detectionWaitMs: 30_000,
  /** The SIGTERMed instance must have drained and exited within this. */
  drainWaitMs: 30_000,
  /** How often the gateway's cluster view is read while waiting for the verdicts. */
  pollMs: 50,
  products: 20,
} as const;

/** The catalog instances: the first is killed with SIGKILL, the second stopped with SIGTERM, the third carries on. */
export const FAILOVER_VICTIMS = { killed: 'catalog-1', drained: 'catalog-2', survivor: 'catalog-3' } as const;

export interface FailoverBenchOptions {
  clients: number;
  /** Load before the measured windows (JIT, connection pools): counted in requests and errors, not in the phases. */
  warmupS: number;
  /** Steady load before the SIGKILL. */
  beforeS: number;
  /** Between the SIGKILL and the SIGTERM. */
  termAfterS: number;
  /** Steady load once the killed instance is seen down and the drained one has exited. */
  afterS: number;
  keepDatabase: boolean;
  /** DATABASE_URL (a fresh database is made on that server), REDIS_URL, NATS_URL. */
  env: NodeJS.ProcessEnv;
  launcher: NodeLauncher;
  agoraMain: string;
  progress: (line: string) => void;
}

export interface PhaseFigures {
  requests: number;
  errors: number;
  durationS: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface FailoverReport {
  scenario: 'failover';
  /** Every request of the run, warm-up included. */
  requests: number;
  /** Every answer other than a 200 (or no answer), warm-up included. */
  clientErrors: number;
  /** SIGKILL → the gateway's /api/v1/admin/cluster shows the instance down (or gone). */
  detectionMs: number | null;
  p99MsBefore: number;
  p99MsDuring: number;
  p99MsAfter: number;
  clients: number;
  warmupS: number;
  catalogInstances: number;
  phases: { before: PhaseFigures; during: PhaseFigures; after: PhaseFigures };
  errorKinds: Record<string, number>;
  /** SIGTERM → the gateway shows the instance draining (or gone). */
  drainSeenMs: number | null;
  /** SIGTERM → the process exited. */
  drainExitMs: number | null;
  drainExitCode: number | null;
  /** How the killed instance looked in the gateway's view after the kill, in order (state changes only). */
  killedStates: string[];
  /**
   * Discovery warnings the members logged during the run: `falseDowns` are instances declared down
   * that were alive (neither victim) — what CPU starvation does to a failure detector;
   * `registryUnreachable` counts the watchers that stopped trusting Redis for a while.
   */
  discoveryWarnings: { falseDowns: number; registryUnreachable: number };
  discovery: { heartbeatMs: number; ttlMs: number };
  machine: { cpus: number; model: string; node: string; loadAverage1mBefore: number };
  startedAt: string;
}

// ------------------------------------------------------------------------------------------------
// Read load: the steady traffic the failover is measured under (also used by test/cluster).

export interface ReadSample {
  /** performance.now() when the request was sent. */
  startedAt: number;
  ms: number;
  ok: boolean;
  /** For a failure: the status and problem code, or the network error. */
  kind?: string;
}

export interface ReadLoadOptions {
  http: LoopbackClient;
  /** Product ids for GET /api/v1/products/:id (one in two requests). */
  productIds: readonly string[];
  clients: number;
  /** The other requests are GET /api/v1/products?limit=<listLimit>. */
  listLimit: number;
  /** Hard bounds: the load stops at whichever comes first, or at stop(). */
  maxMs: number;
  maxRequests: number;
}

/**
 * A closed loop of idempotent reads through the gateway: `clients` clients, each sending its next
 * request as soon as the last one answered. Anything but a 200 — a 5xx, a 4xx, a reset connection —
 * is a client-visible error.
 */
export class ReadLoad {
  private readonly samples: ReadSample[] = [];
  private stopped = false;
  private running = 0;
  private done: Promise<void> | undefined;

  constructor(private readonly options: ReadLoadOptions) {
    if (options.productIds.length === 0) throw new Error('the read load needs at least one product id');
  }

  /** Requests sent and not answered yet. */
  get inFlight(): number {
    return this.running;
  }

  get count(): number {
    return this.samples.length;
  }

  start(): this {
    if (this.done) throw new Error('the load is already running');
    const deadline = performance.now() + this.options.maxMs;
    const lane = async (client: number) => {
      let n = client;
      while (!this.stopped && performance.now() < deadline && this.samples.length + this.running < this.options.maxRequests) {
        n += 1;
        const id = this.options.productIds[n % this.options.productIds.length] as string;
        const path = n % 2 === 0 ? `/api/v1/products?limit=${this.options.listLimit}` : `/api/v1/products/${id}`;
        const startedAt = performance.now();
        this.running += 1;
        try {
          const answer = await this.options.http.request('GET', path);
          const ok = answer.status === 200;
          const code = problemCode(answer.body);
          this.samples.push(ok ? { startedAt, ms: answer.ms, ok } : { startedAt, ms: answer.ms, ok, kind: `${answer.status}${code ? ` ${code}` : ''}` });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
          this.samples.push({ startedAt, ms: performance.now() - startedAt, ok: false, kind: `network: ${code}` });
          // A client does not hammer a dead connection in a hot loop.
          await sleep(10);
        } finally {
          this.running -= 1;
        }
      }
    };
    this.done = Promise.all(Array.from({ length: this.options.clients }, (_, client) => lane(client))).then(() => undefined);
    return this;
  }

  /** Stops sending, waits for the answers in flight, returns every sample. */
  async stop(): Promise<ReadSample[]> {
    this.stopped = true;
    await this.done;
    return this.samples;
  }
}

/** Counts, errors and latency of the samples sent in [from, to). */
export function phaseFigures(samples: readonly ReadSample[], from: number, to: number): PhaseFigures & { errorKinds: Record<string, number>; latency: LatencySummary } {
  const latency = new Samples(FAILOVER_BENCH_LIMITS.maxRequests);
  const errorKinds: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  for (const sample of samples) {
    if (sample.startedAt < from || sample.startedAt >= to) continue;
    requests += 1;
    if (sample.ok) latency.add(sample.ms);
    else {
      errors += 1;
      const kind = sample.kind ?? 'unknown';
      errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
    }
  }
  const summary = latency.summary();
  const durationS = Math.max(0, (to - from) / 1000);
  return {
    requests,
    errors,
    durationS: round(durationS, 2),
    reqPerSec: durationS > 0 ? round(requests / durationS, 1) : 0,
    p50Ms: round(summary.p50Ms, 1),
    p99Ms: round(summary.p99Ms, 1),
    maxMs: round(summary.maxMs, 1),
    errorKinds,
    latency: summary,
  };
}

// ------------------------------------------------------------------------------------------------
// Watching the gateway's view.

/** The state of an instance in a view: `gone` once the gateway no longer lists it. */
export function instanceState(view: ClusterView, service: string, instanceId: string): string {
  return view.services.find((s) => s.name === service)?.instances.find((i) => i.id === instanceId)?.state ?? 'gone';
}

export interface VerdictWatch {
  /** Wall-clock ms (the gateway's clock, from the view's generatedAt) of the first view that matched; undefined on timeout. */
  at: number | undefined;
  /** The instance's state in every view read, changes only. */
  states: string[];
}

/**
 * Reads the gateway's cluster view every `pollMs` until `instanceId` of `service` is in one of
 * `states` (an instance no longer listed counts as `gone`), or `timeoutMs` passes.
 */
export async function watchInstance(cluster: ProcessCluster, http: LoopbackClient, service: string, instanceId: string, states: readonly string[], timeoutMs: number, pollMs: number = FAILOVER_BENCH_LIMITS.pollMs): Promise<VerdictWatch> {
  const deadline = Date.now() + timeoutMs;
  const seen: string[] = [];
  while (Date.now() < deadline) {
    const view = await cluster.view(http).catch(() => undefined);
    if (view) {
      const state = instanceState(view, service, instanceId);
      if (seen.at(-1) !== state) seen.push(state);
      if (states.includes(state)) return { at: Date.parse(view.generatedAt), states: seen };
    }
    await sleep(pollMs);
  }
  return { at: undefined, states: seen };
}

// ------------------------------------------------------------------------------------------------
// The scenario.

const ADMIN = { email: 'failover-admin@bench.agora.local', password: `bench-${randomBytes(9).toString('base64url')}` };

function required(env: NodeJS.ProcessEnv, name: string, example: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(name, `the failover bench runs a cluster on real servers: set ${name} (e.g. ${example})`);
  return value;
}

async function createProducts(http: LoopbackClient, token: string, count: number): Promise<string[]> {
  const tag = randomBytes(3).toString('hex').toUpperCase();
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const sku = `FO-${tag}-${i}`;
    const created = await http.request('POST', '/api/v1/admin/products', {
      token,
      parse: true,
      body: { name: `Failover widget ${i}`, description: 'read by the failover benchmark', category: 'bench', variants: [{ sku, title: 'Default', price: { amount: 999 + i, currency: 'USD' } }] },
    });
    if (created.status !== 201) throw new Error(`creating a product answered ${created.status}: ${JSON.stringify(created.body)}`);
    ids.push((created.body as { id: string }).id);
    const stocked = await http.request('PUT', `/api/v1/admin/inventory/${sku}`, { token, body: { onHand: 100 }, parse: true });
    if (stocked.status !== 200) throw new Error(`stocking ${sku} answered ${stocked.status}: ${JSON.stringify(stocked.body)}`);
  }
  return ids;
}

/**
 * `agora bench failover`: a gateway, identity, inventory and three catalog instances as separate
 * processes on the servers from the environment (a fresh database, its own discovery prefix and
 * event stream); steady reads through the gateway; one catalog instance SIGKILLed, another
 * SIGTERMed; errors, detection time and p99 before / during / after.
 */
export async function runFailoverBench(options: FailoverBenchOptions): Promise<FailoverReport> {
  const startedAt = new Date().toISOString();
  const loadAverage1mBefore = round(loadavg()[0] ?? Number.NaN, 2);
  const serverUrl = required(options.env, 'DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/postgres');
  const redisUrl = required(options.env, 'REDIS_URL', 'redis://127.0.0.1:6379');
  const natsUrl = required(options.env, 'NATS_URL', 'nats://127.0.0.1:4222');
  const cleanups: (() => Promise<void>)[] = [];
  const cleanUp = async () => {
    for (const step of cleanups.splice(0).reverse()) {
      await step().catch((err: unknown) => options.progress(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`));
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    options.progress(`${signal}: stopping the cluster and removing the run's data`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const database = await createRunDatabase(serverUrl);
    if (!options.keepDatabase) cleanups.push(() => database.drop());
    options.progress(`storage: PostgreSQL database ${database.name}${options.keepDatabase ? ' (kept)' : ' (dropped after the run)'}`);
    // Loaded here, not at the top: every `agora` command imports the bench module.
    const { deleteNatsStream, deleteRedisKeys, uniqueNatsNames, uniqueRedisPrefix } = await import('@agora/platform/testing');
    const discoveryPrefix = uniqueRedisPrefix('agora_bench');
    cleanups.push(async () => void (await deleteRedisKeys(discoveryPrefix, redisUrl)));
    const nats = uniqueNatsNames('agora_bench');
    cleanups.push(() => deleteNatsStream(nats.stream, natsUrl));
    const dataDir = mkdtempSync(join(tmpdir(), 'agora-failover-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));

    const heartbeatMs = 500;
    const ttlMs = 1_500;
    const cluster = await ProcessCluster.start({
      launcher: options.launcher,
      agoraMain: options.agoraMain,
      env: {
        ...baseEnvironment(options.env),
        DATABASE_URL: database.url,
        REDIS_URL: redisUrl,
        NATS_URL: natsUrl,
        AGORA_DATA_DIR: dataDir,
        AGORA_DISCOVERY_PREFIX: discoveryPrefix,
        AGORA_NATS_STREAM: nats.stream,
        AGORA_NATS_SUBJECT_PREFIX: nats.subjectPrefix,
        AGORA_DISCOVERY_HEARTBEAT_MS: String(heartbeatMs),
        AGORA_DISCOVERY_TTL_MS: String(ttlMs),
        AGORA_JWT_SECRET: randomBytes(48).toString('base64url'),
        AGORA_PAYMENT_WEBHOOK_SECRET: randomBytes(32).toString('base64url'),
        AGORA_RATE_LIMITS: 'off',
        AGORA_LOG_LEVEL: 'warn',
        AGORA_SEED: 'off',
      },
      gateways: 1,
      services: { identity: 1, inventory: 1, catalog: 3 },
      admin: ADMIN,
      progress: options.progress,
    });
    cleanups.push(() => cluster.stop());
    const gateway = cluster.gatewayUrls[0] ?? '';
    const http = new LoopbackClient(gateway, options.clients);
    cleanups.push(() => http.close());
    const watcher = new LoopbackClient(gateway, 1);
    cleanups.push(() => watcher.close());

    const productIds = await createProducts(http, cluster.adminToken, FAILOVER_BENCH_LIMITS.products);
    options.progress(`load: ${options.clients} clients reading ${productIds.length} products through ${gateway}; ${options.warmupS} s warm-up, then ${options.beforeS} s before the SIGKILL`);
    const maxMs = (options.warmupS + options.beforeS + options.termAfterS + options.afterS) * 1000 + FAILOVER_BENCH_LIMITS.detectionWaitMs + FAILOVER_BENCH_LIMITS.drainWaitMs;
    const load = new ReadLoad({ http, productIds, clients: options.clients, listLimit: 5, maxMs, maxRequests: FAILOVER_BENCH_LIMITS.maxRequests }).start();
    cleanups.push(async () => void (await load.stop()));
    const warmupBegan = performance.now();
    await sleep(options.warmupS * 1000);
    const began = performance.now();
    await sleep(options.beforeS * 1000);

    const killedAt = performance.now();
    const killedAtWall = cluster.kill(FAILOVER_VICTIMS.killed, 'SIGKILL');
    options.progress(`SIGKILL ${FAILOVER_VICTIMS.killed} (pid ${cluster.member(FAILOVER_VICTIMS.killed).pid})`);
    const detection = watchInstance(cluster, watcher, 'catalog', FAILOVER_VICTIMS.killed, ['down', 'gone'], FAILOVER_BENCH_LIMITS.detectionWaitMs);
    await sleep(options.termAfterS * 1000);

    const drained = cluster.member(FAILOVER_VICTIMS.drained);
    const termAt = performance.now();
    const termAtWall = cluster.kill(FAILOVER_VICTIMS.drained, 'SIGTERM');
    options.progress(`SIGTERM ${FAILOVER_VICTIMS.drained} (pid ${drained.pid})`);
    const drainSeen = (async () => {
      await detection; // one watcher connection: look for the drain once the kill is settled
      return watchInstance(cluster, watcher, 'catalog', FAILOVER_VICTIMS.drained, ['draining', 'down', 'gone'], FAILOVER_BENCH_LIMITS.drainWaitMs);
    })();
    const exit = await Promise.race([drained.exited, sleep(FAILOVER_BENCH_LIMITS.drainWaitMs).then(() => undefined)]);
    const drainExitMs = exit ? performance.now() - termAt : null;
    const detected = await detection;
    const drainWatch = await drainSeen;
    const duringEnd = performance.now();
    options.progress(`${FAILOVER_VICTIMS.killed} seen down after ${detected.at === undefined ? 'never' : `${detected.at - killedAtWall} ms`}; ${FAILOVER_VICTIMS.drained} exited ${exit ? `with ${exit.code ?? exit.signal} after ${Math.round(drainExitMs ?? 0)} ms` : 'never'}; ${options.afterS} s after`);
    await sleep(options.afterS * 1000);
    const samples = await load.stop();
    const end = performance.now();
    const discoveryWarnings = countDiscoveryWarnings(cluster.all().map((m) => m.output()).join('\n'), [FAILOVER_VICTIMS.killed, FAILOVER_VICTIMS.drained]);
    if (!exit) throw new Error(`${FAILOVER_VICTIMS.drained} did not exit within ${FAILOVER_BENCH_LIMITS.drainWaitMs / 1000} s of SIGTERM`);
    await cleanUp();

    const before = phaseFigures(samples, began, killedAt);
    const during = phaseFigures(samples, killedAt, duringEnd);
    const after = phaseFigures(samples, duringEnd, end + 1);
    const all = phaseFigures(samples, warmupBegan, end + 1);
    const strip = ({ errorKinds: _kinds, latency: _latency, ...figures }: ReturnType<typeof phaseFigures>): PhaseFigures => figures;
    return {
      scenario: 'failover',
      requests: all.requests,
      clientErrors: all.errors,
      detectionMs: detected.at === undefined ? null : detected.at - killedAtWall,
      p99MsBefore: before.p99Ms,
      p99MsDuring: during.p99Ms,
      p99MsAfter: after.p99Ms,
      clients: options.clients,
      warmupS: options.warmupS,
      catalogInstances: 3,
      phases: { before: strip(before), during: strip(during), after: strip(after) },
      errorKinds: all.errorKinds,
      drainSeenMs: drainWatch.at === undefined ? null : drainWatch.at - termAtWall,
      drainExitMs: drainExitMs === null ? null : Math.round(drainExitMs),
      drainExitCode: exit.code,
      killedStates: detected.states,
      discoveryWarnings,
      discovery: { heartbeatMs, ttlMs },
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage1mBefore },
      startedAt,
    };
  } finally {
    await cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Counts the members' discovery warnings (JSON log lines) that are not about the victims. */
export function countDiscoveryWarnings(logs: string, victims: readonly string[]): FailoverReport['discoveryWarnings'] {
  let falseDowns = 0;
  let registryUnreachable = 0;
  for (const line of logs.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { msg?: unknown; id?: unknown };
    try {
      entry = JSON.parse(line) as { msg?: unknown; id?: unknown };
    } catch {
      continue; // a line cut by the output tail
    }
    if (entry.msg === 'discovery: instance down' && typeof entry.id === 'string' && !victims.includes(entry.id)) falseDowns += 1;
    if (entry.msg === 'discovery: registry unreachable; keeping the last known instances') registryUnreachable += 1;
  }
  return { falseDowns, registryUnreachable };
}

export function writeFailoverResult(report: FailoverReport, dir: string = RESULTS_DIR): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `failover-postgres-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

function fmt(value: number | null, unit = ''): string {
  if (value === null || !Number.isFinite(value)) return 'n/a';
  return `${value.toLocaleString('en-US', { maximumFractionDigits: 1 })}${unit}`;
}

function phaseRow(p: PhaseFigures): string {
  return `${fmt(p.requests)} req in ${fmt(p.durationS, ' s')} (${fmt(p.reqPerSec)}/s), ${p.errors} errors, p50 ${fmt(p.p50Ms)} / p99 ${fmt(p.p99Ms)} / max ${fmt(p.maxMs)} ms`;
}

export function formatFailoverTable(r: FailoverReport): string {
  const rows: [string, string][] = [
    ['scenario', `failover (reads through the gateway; ${r.catalogInstances} catalog instances: one SIGKILLed, one SIGTERMed)`],
    ['clients', `${r.clients} concurrent (GET /api/v1/products?limit=5 and GET /api/v1/products/:id)`],
    ['requests', `${fmt(r.requests)} (after a ${r.warmupS} s warm-up, which is counted here and in the errors, not in the phases)`],
    ['client-visible errors', `${r.clientErrors}${Object.keys(r.errorKinds).length > 0 ? `  ${JSON.stringify(r.errorKinds)}` : ''}`],
    ['detection (SIGKILL → down)', `${fmt(r.detectionMs, ' ms')}  (heartbeat ${r.discovery.heartbeatMs} ms, TTL ${r.discovery.ttlMs} ms; states seen: ${r.killedStates.join(' → ')})`],
    ['discovery warnings', `${r.discoveryWarnings.falseDowns} live instances declared down, ${r.discoveryWarnings.registryUnreachable} registry-unreachable holds (all members, whole run)`],
    ['drain (SIGTERM → draining / exit)', `${fmt(r.drainSeenMs, ' ms')} / ${fmt(r.drainExitMs, ' ms')} (exit code ${r.drainExitCode ?? 'n/a'})`],
    ['before', phaseRow(r.phases.before)],
    ['during', phaseRow(r.phases.during)],
    ['after', phaseRow(r.phases.after)],
    ['machine', `${r.machine.cpus} × ${r.machine.model}, node ${r.machine.node}, load average ${r.machine.loadAverage1mBefore} before the run`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`).join('\n');
}
