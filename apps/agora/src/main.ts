#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { runBenchCommand } from '@agora/bench';
import { FROM_SOURCE_ENV, agoraLauncher } from '@agora/cli/launch';
import { ConfigError } from '@agora/kernel';
import { createLogger } from '@agora/platform';
import { createAdmin } from '@agora/identity';
import { loadConfig, type AgoraConfig } from './config.js';
import { createAgora, migrateAll, StorageSet } from './compose.js';
import { ensureAdminUser, seedDemoData } from './seed.js';
import { BackendsUnavailable } from './backends.js';
import { Cluster } from './cluster.js';
import { RUNNABLE, runService } from './service-runner.js';
import { renderNginxConfig } from './nginx.js';
import { runChaosCommand } from './chaos/command.js';
import { runSimCommand } from './sim/command.js';
import { SHARD_CLI_LIMITS, ensureShardDatabases, runShardsCommand, type ShardedService } from './shards.js';
import { runBackupCommand, runRestoreCommand } from './backup/command.js';
import { runOrdersCommand } from './orders-archive.js';

const USAGE = `agora — the Agora e-commerce platform

usage:
  agora start                      every service, the gateway and the web app in one process
  agora cluster [--replicas N] [--gateways G] [--no-restart] [--order-shards N] [--cart-shards N]
                                   G gateways (first on PORT) and N processes per service on
                                   PostgreSQL/Redis/NATS from DATABASE_URL, REDIS_URL, NATS_URL;
                                   --order-shards/--cart-shards: orders/carts on N databases
                                   <database>_<service>_s0.. (created when missing)
  agora shards list|add URL|remove ID|rebalance [--service order,cart] [--weight W] [--weights s0=2,s1=1]
                                   the shard maps, and online moves of shoppers between shards
                                   (docs/sharding.md)
  agora orders archive --before YYYY-MM [--out DIR]
                                   final months of orders before YYYY-MM to verified files,
                                   then dropped from every order shard (docs/sharding.md)
  agora service NAME               one service (or a gateway) as its own process, for containers
  agora migrate                    apply every service's migrations
  agora seed                       load the demo catalog and stock (only into an empty catalog)
  agora admin create --email E --password P [--name N]
                                   create an admin (or promote and reset an existing user)
  agora bench checkout [--json] [--buyers N] [--duration S]
                                   load benchmark against \`agora start\` in a child process,
                                   with a bare-Fastify baseline from the same run (--help for more)
  agora bench failover [--json] [--clients N]
                                   reads through a cluster of its own while one of 3 catalog
                                   instances is SIGKILLed and one SIGTERMed: errors, detection
                                   time, p99 before/during/after
  agora bench ring [--json] [--nodes N] [--keys K]
                                   balance, keys moved on a join and lookups/s of the hash
                                   ring, rendezvous and jump hashing (in process)
  agora bench cache [--json] [--clients N] [--products P]
                                   Zipf product reads and the first page through \`agora start\`
                                   with and without the catalog cache, LRU/LFU/FIFO hit ratios
  agora bench flash-sale [--json] [--users U] [--attempts A] [--units Q]
                                   a stampede on a flash sale through \`agora start\`: attempts/s,
                                   sell-out time, p99, accepted = orders, catalog p99 during vs before
  agora nginx-config --listen [HOST:]PORT --gateways [HOST:]PORT,...
                                   prints deploy/nginx/agora.conf.template filled in
  agora sim [--seeds N] [--seed S] [--json] [--trace] [--bug NAME]
                                   deterministic simulation of checkout: the real saga over
                                   modelled stores, a faulty network and crashing processes in
                                   virtual time; thousands of seeds, each replayable (docs/simulation.md)
  agora chaos [--seed S] [--duration D] [--json] [--pgbouncer]
                                   shoppers on a cluster on PostgreSQL/Redis/NATS of its own while
                                   a seeded schedule kills, stops and restarts processes and
                                   servers; then the invariants (docs/operations.md#chaos)
  agora backup --to DIR [--json]   every database (pg_dump per database and shard, or the embedded
                                   one's dump) and the event stream's snapshot, with a manifest
  agora restore --from DIR [--force] [--json]
                                   checks the backup's checksums, then restores it into empty
                                   targets (--force replaces them) (docs/operations.md)

configuration is by environment: PORT, AGORA_DATA_DIR, DATABASE_URL, <SERVICE>_DATABASE_URL,
AGORA_ADMIN_EMAIL, AGORA_ADMIN_PASSWORD, AGORA_JWT_SECRET, AGORA_INTERNAL_SECRET (required by
agora service), AGORA_RATE_LIMITS, AGORA_LOG_LEVEL
(see README.md).`;

function storageLabel(config: AgoraConfig): string {
  if (!config.databaseUrl) return `embedded PGlite in ${config.dataDir}`;
  const url = new URL(config.databaseUrl);
  return `PostgreSQL at ${url.host}${url.pathname}`;
}

async function start(config: AgoraConfig): Promise<void> {
  const started = Date.now();
  const agora = await createAgora(config);
  const { logger } = agora;
  const admin = await ensureAdminUser(config, agora.storages);
  if (config.seedDemoData) await seedDemoData(config, agora.storages, logger);
  await agora.gateway.listen({ port: config.port, host: config.host });
  const address = agora.gateway.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://localhost:${port}`;
  process.stdout.write(
    [
      '',
      `  Agora is running at ${url}  (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
      `  storage:  ${storageLabel(config)}`,
      `  API:      ${url}/api/v1/products   docs: ${url}/api/docs`,
      admin.demo ? `  admin:    ${admin.email} / ${admin.password}   (demo credentials; set AGORA_ADMIN_EMAIL/AGORA_ADMIN_PASSWORD to choose)` : `  admin:    ${admin.email} (from AGORA_ADMIN_EMAIL)`,
      '',
    ].join('\n') + '\n',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining requests');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    try {
      await agora.close();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** Every process compiles its TypeScript at start: on 2 cores, 13 processes take a while. */
const CLUSTER_READY_TIMEOUT_MS = 180_000;

async function runCluster(config: AgoraConfig, options: { replicas: number; gateways: number; restart: boolean; shards: Partial<Record<ShardedService, number>> }): Promise<void> {
  const logger = createLogger('cluster', config.logLevel);
  await Cluster.checkBackends(config);
  // --order-shards / --cart-shards: the databases, then <SERVICE>_SHARDS for every member.
  const shardEnv: Record<string, string> = {};
  for (const [service, count] of Object.entries(options.shards) as [ShardedService, number][]) {
    if (config.shards[service]) throw new ConfigError(`--${service}-shards`, `${service.toUpperCase()}_SHARDS is set already; use one or the other`);
    shardEnv[`${service.toUpperCase()}_SHARDS`] = (await ensureShardDatabases(config.databaseUrl ?? '', service, count)).join(',');
  }
  // Schema and demo data once, here, before any child starts.
  const admin = await withStorages(config, async (storages) => {
    const credentials = await ensureAdminUser(config, storages);
    if (config.seedDemoData) await seedDemoData(config, storages, logger);
    return credentials;
  });
  const poolMax = await Cluster.poolMax(config, options.replicas, logger);
  // Shard pools come on top of each process's main pool: half of it each, unless the operator chose.
  if (Object.keys(shardEnv).length > 0 && !process.env.AGORA_SHARD_POOL_MAX) shardEnv.AGORA_SHARD_POOL_MAX = String(Math.max(2, Math.floor((poolMax ?? config.dbPoolMax) / 2)));
  const cluster = new Cluster(config, { ...options, ...(poolMax === undefined ? {} : { poolMax }) }, logger, { ...process.env, ...shardEnv });
  cluster.start();
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping the cluster');
    await cluster.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  try {
    await cluster.waitReady(CLUSTER_READY_TIMEOUT_MS);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  process.stdout.write(
    [
      '',
      `  Agora cluster: ${options.gateways} gateway(s), ${options.replicas} process(es) per service`,
      ...cluster.gatewayUrls().map((url) => `  gateway:  ${url}`),
      `  cluster:  GET /api/v1/admin/cluster (admin)   admin: ${admin.email}${admin.demo ? ` / ${admin.password}` : ''}`,
      '  Ctrl-C stops everything (each process drains first).',
      '',
    ].join('\n') + '\n',
  );
}

async function withStorages<T>(config: AgoraConfig, work: (storages: StorageSet) => Promise<T>): Promise<T> {
  const storages = new StorageSet(config);
  try {
    await migrateAll(storages);
    return await work(storages);
  } finally {
    await storages.close();
  }
}

/** How a command that starts Agora processes of its own (bench, chaos) runs this CLI again. */
function selfContext() {
  // A CLI running from its sources starts its children from sources too (the bench's scripts beside it are .ts).
  if (import.meta.url.endsWith('.ts')) process.env[FROM_SOURCE_ENV] ??= '1';
  const launcher = agoraLauncher();
  return {
    launcher,
    agoraMain: launcher.main,
    env: process.env,
    stdout: (text: string) => void process.stdout.write(text),
    stderr: (text: string) => void process.stderr.write(text),
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 1 : 0;
  }
  if (command === 'bench') {
    // Before loadConfig: the bench configures the servers it starts, not this process.
    return runBenchCommand(rest, selfContext());
  }
  if (command === 'sim') {
    // Before loadConfig: the simulation runs in memory and needs no configuration.
    return runSimCommand(rest, { stdout: (text) => void process.stdout.write(text), stderr: (text) => void process.stderr.write(text) });
  }
  if (command === 'chaos') {
    // Before loadConfig: chaos configures the servers and the cluster it starts, not this process.
    return runChaosCommand(rest, selfContext());
  }
  if (command === 'nginx-config') {
    // Before loadConfig: printing a config file needs no secrets or data directory.
    const { values } = parseArgs({ args: [...rest], options: { listen: { type: 'string', default: '8088' }, gateways: { type: 'string' } } });
    if (!values.gateways) {
      process.stderr.write('usage: agora nginx-config [--listen [HOST:]PORT] --gateways [HOST:]PORT,[HOST:]PORT,...\n');
      return 2;
    }
    process.stdout.write(renderNginxConfig({ listen: values.listen, gateways: values.gateways.split(',') }));
    return 0;
  }
  const config = loadConfig();
  switch (command) {
    case 'service': {
      const name = rest[0];
      if (!name) {
        process.stderr.write(`usage: agora service NAME   (NAME one of ${RUNNABLE.join(', ')})\n`);
        return 2;
      }
      await runService(name, config);
      return -1;
    }
    case 'cluster': {
      const { values } = parseArgs({
        args: [...rest],
        options: {
          replicas: { type: 'string', default: '2' },
          gateways: { type: 'string', default: '1' },
          'no-restart': { type: 'boolean', default: false },
          'order-shards': { type: 'string' },
          'cart-shards': { type: 'string' },
        },
      });
      const shards: Partial<Record<ShardedService, number>> = {};
      for (const service of ['order', 'cart'] as const) {
        const raw = values[`${service}-shards`];
        if (raw === undefined) continue;
        const count = Number(raw);
        if (!Number.isInteger(count) || count < 1 || count > SHARD_CLI_LIMITS.clusterShardsMax) throw new ConfigError(`--${service}-shards`, `must be 1..${SHARD_CLI_LIMITS.clusterShardsMax}, got ${raw}`);
        shards[service] = count;
      }
      const replicas = Number(values.replicas);
      const gateways = Number(values.gateways);
      if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16) throw new ConfigError('--replicas', `must be 1..16, got ${values.replicas}`);
      if (!Number.isInteger(gateways) || gateways < 1 || gateways > 8) throw new ConfigError('--gateways', `must be 1..8, got ${values.gateways}`);
      await runCluster(config, { replicas, gateways, restart: !values['no-restart'], shards });
      return -1;
    }
    case 'start':
      await start(config);
      return -1;
    case 'shards':
      return runShardsCommand(config, rest);
    case 'orders':
      return runOrdersCommand(config, rest);
    case 'backup':
      return runBackupCommand(config, rest);
    case 'restore':
      return runRestoreCommand(config, rest);
    case 'migrate':
      await withStorages(config, async () => undefined);
      process.stdout.write(`migrations applied (${storageLabel(config)})\n`);
      return 0;
    case 'seed': {
      const result = await withStorages(config, (storages) => seedDemoData(config, storages, createLogger('agora', config.logLevel)));
      process.stdout.write(result.products > 0 ? `seeded ${result.products} products, ${result.stockRows} stock rows\n` : 'catalog already has products; nothing seeded\n');
      return 0;
    }
    case 'admin': {
      const { values, positionals } = parseArgs({ args: [...rest], options: { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' } }, allowPositionals: true });
      if (positionals[0] !== 'create' || !values.email || !values.password) {
        process.stderr.write('usage: agora admin create --email E --password P [--name N]\n');
        return 2;
      }
      const { email, password } = values;
      const user = await withStorages(config, async (storages) => createAdmin(await storages.forService('identity'), { email, password, name: values.name ?? 'Admin' }));
      process.stdout.write(`admin ${user.email} (${user.id}) is ready\n`);
      return 0;
    }
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof BackendsUnavailable) {
      process.stderr.write(`agora: ${err.message}\n`);
      process.exit(69);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`agora failed: ${describeFailure(err)}\n`);
    process.exit(1);
  },
);

/** How deep `describeFailure` follows causes (they can form a cycle). */
const FAILURE_CAUSES_MAX = 5;

/** The failure with its causes: a driver's error (drizzle's "Failed query") says what failed, its cause why. */
function describeFailure(err: unknown, depth = 0): string {
  if (!(err instanceof Error)) return String(err);
  const text = err.stack ?? err.message;
  const cause = (err as { cause?: unknown }).cause;
  return cause === undefined || depth >= FAILURE_CAUSES_MAX ? text : `${text}\ncaused by: ${describeFailure(cause, depth + 1)}`;
}
