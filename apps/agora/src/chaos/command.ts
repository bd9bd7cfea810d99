import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { ProcessCluster, baseEnvironment, type NodeLauncher } from '@agora/bench';
import { ConfigError } from '@agora/kernel';
import { PostgresStorage } from '@agora/platform';
import { FaultRunner } from './faults.js';
import { explainViolations } from './forensics.js';
import { History } from './history.js';
import { checkInvariants, type InvariantReport } from './invariants.js';
import { ADMIN, ChaosClient, LOAD_LIMITS, runLoad, setUpShop } from './load.js';
import { buildReport, formatExits, formatMemberOutputs, formatReport, orderAnswers, replayCommand } from './report.js';
import { buildSchedule } from './schedule.js';
import { startChaosServers } from './servers.js';

export const CHAOS_USAGE = `usage: agora chaos [--seed S] [--duration D] [--json] [--pgbouncer]

  Starts PostgreSQL (initdb/pg_ctl), redis-server and nats-server -js of its own on free loopback
  ports (and PgBouncer in front of PostgreSQL with --pgbouncer), a cluster of agora service
  processes on them, and shoppers that browse, check out with every sandbox card, cancel and buy
  and pay flash-sale units, for D (default 60s; 90, 90s, 30m). Meanwhile a schedule drawn from the
  seed SIGKILLs, SIGTERMs and SIGSTOPs (past the saga lease) order, inventory and payment
  processes and restarts PostgreSQL, Redis, NATS (and PgBouncer). Then, once the system has had
  time to recover, checks the invariants over the databases and what the shoppers were told.
  Exit 0 only if none is broken; a failing run prints the command that replays its schedule.
  --json: the last stdout line is { seed, durationS, faults, requests, violations, ... }.`;

export const CHAOS_LIMITS = {
  durationSDefault: 60,
  durationSMax: 24 * 3_600,
  /** After the load: how long the system has to reach a state where every invariant holds. */
  recoveryWaitMs: 120_000,
  recoveryPollMs: 2_000,
  /** Say what is still inconsistent every this many polls. */
  recoveryReportEvery: 5,
  /** Every member must listen again within this long after the load. */
  membersBackMs: 180_000,
  /** Every process compiles at start and 2 busy cores may run several runs: generous. */
  clusterReadyMs: 300_000,
  checkerPoolMax: 2,
} as const;

/** The cluster: one gateway, and two of the processes whose crashes matter most (sagas, stock, the sale). */
export const CHAOS_TOPOLOGY = { identity: 1, catalog: 1, cart: 1, inventory: 2, payment: 1, order: 2 } as const;
/** The members the schedule may signal. */
export const CHAOS_VICTIMS = ['inventory', 'payment', 'order'] as const;

/** Short leases and windows, so a fault's recovery fits in a short run. */
export const CHAOS_SETTINGS = {
  AGORA_SAGA_LEASE_MS: '3000',
  AGORA_SAGA_RECOVERY_INTERVAL_MS: '1000',
  AGORA_FLASH_SALE_PAYMENT_WINDOW_MS: '5000',
  AGORA_FLASH_SALE_SWEEP_MS: '1000',
  AGORA_FLASH_SALE_RECONCILE_MS: '1000',
  AGORA_DISCOVERY_TTL_MS: '3000',
  AGORA_DB_POOL_MAX: '4',
  AGORA_RATE_LIMITS: 'off',
  AGORA_LOG_LEVEL: 'warn',
  AGORA_SEED: 'off',
  AGORA_DEMO_PRODUCTS: '0',
} as const;

export interface ChaosContext {
  launcher: NodeLauncher;
  agoraMain: string;
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** `90`, `90s`, `30m`, `1h` → seconds. */
export function parseDuration(raw: string): number {
  const match = /^(\d+)(s|m|h)?$/.exec(raw.trim());
  if (!match) throw new ConfigError('--duration', `must be like 90, 90s, 30m or 1h, got "${raw}"`);
  const seconds = Number(match[1]) * ({ s: 1, m: 60, h: 3_600 } as const)[(match[2] ?? 's') as 's' | 'm' | 'h'];
  if (seconds < 1 || seconds > CHAOS_LIMITS.durationSMax) throw new ConfigError('--duration', `must be 1 s..${CHAOS_LIMITS.durationSMax / 3_600} h, got ${raw}`);
  return seconds;
}

function victims(): string[] {
  return CHAOS_VICTIMS.flatMap((service) => Array.from({ length: CHAOS_TOPOLOGY[service] }, (_, i) => `${service}-${i + 1}`));
}

/** `agora chaos ...`; returns the exit code (0: every invariant holds). */
export async function runChaosCommand(argv: readonly string[], context: ChaosContext): Promise<number> {
  let values: { seed?: string; duration?: string; json: boolean; pgbouncer: boolean; help: boolean; 'test-corrupt-stock': boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        seed: { type: 'string' },
        duration: { type: 'string' },
        json: { type: 'boolean', default: false },
        pgbouncer: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        // TEST-ONLY: breaks one stock row before the final check, to prove the check catches it.
        'test-corrupt-stock': { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    context.stderr(`${err instanceof Error ? err.message : String(err)}\n\n${CHAOS_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    context.stdout(`${CHAOS_USAGE}\n`);
    return 0;
  }
  const seed = values.seed === undefined ? randomInt(1, 2 ** 31 - 1) : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31 - 1) throw new ConfigError('--seed', `must be an integer 0..${2 ** 31 - 1}, got ${values.seed}`);
  const durationS = values.duration === undefined ? CHAOS_LIMITS.durationSDefault : parseDuration(values.duration);
  const progress = (line: string) => context.stderr(`chaos: ${line}\n`);
  progress(`seed ${seed}, ${durationS} s (replay: ${replayCommand(seed, durationS, values.pgbouncer)})`);

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanUp = async () => {
    for (const step of cleanups.splice(0).reverse()) await step().catch((err: unknown) => progress(`cleaning up: ${String(err)}`));
  };
  const interrupted = async (signal: string) => {
    progress(`${signal}: stopping everything`);
    await cleanUp();
    process.exit(130);
  };
  const onSigint = () => void interrupted('SIGINT');
  const onSigterm = () => void interrupted('SIGTERM');
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  try {
    progress(`starting PostgreSQL, Redis, NATS${values.pgbouncer ? ' and PgBouncer' : ''} of its own`);
    const servers = await startChaosServers({ pgbouncer: values.pgbouncer });
    cleanups.push(() => servers.stop());
    const dataDir = mkdtempSync(join(tmpdir(), 'agora-chaos-data-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const cluster = await ProcessCluster.start({
      launcher: context.launcher,
      agoraMain: context.agoraMain,
      env: {
        ...baseEnvironment(context.env),
        ...CHAOS_SETTINGS,
        DATABASE_URL: servers.databaseUrl,
        REDIS_URL: servers.redisUrl,
        NATS_URL: servers.natsUrl,
        AGORA_DATA_DIR: dataDir,
        // Through a PgBouncer older than 1.21 a named statement may meet another server connection (docs/operations.md).
        ...(servers.namedStatements ? {} : { AGORA_DB_NAMED_STATEMENTS: 'off' }),
        AGORA_JWT_SECRET: randomBytes(48).toString('base64url'),
        AGORA_PAYMENT_WEBHOOK_SECRET: randomBytes(32).toString('base64url'),
      },
      gateways: 1,
      services: CHAOS_TOPOLOGY,
      admin: ADMIN,
      progress,
      readyTimeoutMs: CHAOS_LIMITS.clusterReadyMs,
    });
    cleanups.push(() => cluster.stop());
    const storage = new PostgresStorage({ url: servers.directDatabaseUrl, poolMax: CHAOS_LIMITS.checkerPoolMax });
    cleanups.push(() => storage.close());

    const setup = await setUpShop(new ChaosClient(() => cluster.gatewayUrls, undefined), `S${seed}`);
    const history = new History();
    const schedule = buildSchedule({ seed, durationMs: durationS * 1000, victims: victims(), pgbouncer: values.pgbouncer, leaseMs: Number(CHAOS_SETTINGS.AGORA_SAGA_LEASE_MS) });
    progress(`${LOAD_LIMITS.shoppers} shoppers for ${durationS} s; ${schedule.length} faults scheduled`);
    const faults = new FaultRunner(cluster, servers, history);
    faults.supervise();
    // The load runs for the duration and at least until the last fault is over: every fault hits a loaded system.
    const endAt = Date.now() + durationS * 1000;
    let faultsDone = false;
    const stopped = () => faultsDone && Date.now() >= endAt;
    const faulting = faults.run(schedule).finally(() => (faultsDone = true));
    await Promise.all([runLoad(new ChaosClient(() => cluster.gatewayUrls, history), history, setup, seed, stopped), faulting]);
    const loadEnded = Date.now();
    progress(`load over (${history.requestCount} requests); every member back, then waiting for the invariants`);
    await faults.settle();
    await waitMembersListening(cluster);

    const answers = orderAnswers(history);
    const check = () => checkInvariants({ inventory: storage, orders: storage, payment: storage, initialStock: setup.initialStock, answers });
    let report: InvariantReport = await check();
    const recoveryDeadline = Date.now() + CHAOS_LIMITS.recoveryWaitMs;
    for (let polls = 0; report.violations.length > 0 && Date.now() < recoveryDeadline; polls++) {
      if (polls % CHAOS_LIMITS.recoveryReportEvery === 0) progress(`not yet consistent (${report.violations.length}, e.g. ${report.violations[0]}); waiting`);
      await sleep(CHAOS_LIMITS.recoveryPollMs);
      report = await check().catch((err: unknown) => ({ ...report, violations: [`the checker failed: ${String(err)}`] }));
    }
    const recoveryMs = Date.now() - loadEnded;
    if (values['test-corrupt-stock']) {
      const sku = setup.skus[setup.skus.length - 1] ?? '';
      progress(`TEST-ONLY: one more unit of ${sku} on hand than there should be`);
      await corruptStock(storage, sku);
      report = await check();
    }
    const result = buildReport({ seed, durationS, pgbouncer: values.pgbouncer, history, violations: report.violations, exits: faults.unexpectedExits, recoveryMs, ordersByStatus: report.ordersByStatus });
    if (faults.unexpectedExits.length > 0) context.stderr(formatExits(faults.unexpectedExits));
    if (report.violations.length > 0) {
      // The members' last output first, the databases' rows last: a caller keeping only the tail keeps those.
      context.stderr(formatMemberOutputs(cluster.all().filter((m) => CHAOS_VICTIMS.some((v) => m.service === v))));
      context.stderr(await explainViolations(storage, report.violations));
    }
    context.stdout(formatReport(result, history));
    if (values.json) context.stdout(`${JSON.stringify(result)}\n`);
    return result.violations === 0 ? 0 : 1;
  } finally {
    await cleanUp();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
}

async function waitMembersListening(cluster: ProcessCluster): Promise<void> {
  const deadline = Date.now() + CHAOS_LIMITS.membersBackMs;
  while (cluster.all().some((m) => m.url === undefined)) {
    if (Date.now() > deadline) throw new Error(`members not listening again within ${CHAOS_LIMITS.membersBackMs / 1000} s: ${cluster.all().filter((m) => m.url === undefined).map((m) => m.instanceId).join(', ')}`);
    await sleep(250);
  }
}

async function corruptStock(storage: PostgresStorage, sku: string): Promise<void> {
  await storage.query(sql`update inventory.stock set on_hand = on_hand + 1 where sku = ${sku}`);
}
