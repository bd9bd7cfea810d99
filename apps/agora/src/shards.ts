import { parseArgs } from 'node:util';
import pg from 'pg';
import { ConfigError, EnvReader } from '@agora/kernel';
import type { ShardOverview } from '@agora/contracts';
import {
  PostgresStorage,
  SHARDING_ENV,
  SHARD_ROUTER_DEFAULTS,
  createLogger,
  ShardMapStore,
  initialMap,
  moveKeys,
  nextShardId,
  postgresLocks,
  redactUrl,
  serviceShardOverview,
  shardMoveLockName,
  type CountedTable,
  type Logger,
  type MoveOptions,
  type MoveReport,
  type ShardMap,
  type ShardMember,
  type ShardedData,
  type Storage,
  type StoredShardMap,
} from '@agora/platform';
import { CART_MIGRATIONS, CART_SHARDED_DATA } from '@agora/cart';
import { ORDER_MIGRATIONS, ORDER_SHARDED_DATA } from '@agora/order';
import type { AgoraConfig } from './config.js';
import { StorageSet, migrateAll } from './compose.js';

/** The sharded services: what moves with a shopper, and the migrations every shard needs. */
export const SHARDED_SERVICES = {
  order: { data: ORDER_SHARDED_DATA, migrations: ORDER_MIGRATIONS, counted: { table: 'orders.orders', keyColumn: 'user_id', label: 'orders' } },
  cart: { data: CART_SHARDED_DATA, migrations: CART_MIGRATIONS, counted: { table: 'cart.cart_lines', keyColumn: 'user_id', label: 'cart lines' } },
} as const satisfies Record<string, { data: ShardedData; migrations: string; counted: CountedTable }>;

/**
 * `GET /api/v1/admin/shards` (the admin's Shards page): every sharded service's newest map, the
 * shoppers and rows on each shard, and its newest move. A shard database is opened for its count
 * and closed again: the page is read by an operator now and then, not on a hot path.
 */
export async function shardOverview(mainOf: (service: ShardedService) => Promise<Storage>, namedStatements: boolean): Promise<ShardOverview> {
  const services = await Promise.all(
    SHARDED_SERVICE_NAMES.map(async (service) =>
      serviceShardOverview(
        service,
        await mainOf(service),
        SHARDED_SERVICES[service].counted,
        async (url) => new PostgresStorage({ url, poolMax: 1, namedStatements }),
        (storage) => storage.close(),
      ),
    ),
  );
  return { generatedAt: new Date().toISOString(), services };
}

export type ShardedService = keyof typeof SHARDED_SERVICES;

/** The sharded services' names, in SHARDED_SERVICES' order (the admin views list them so). */
export const SHARDED_SERVICE_NAMES = Object.keys(SHARDED_SERVICES) as ShardedService[];

export const SHARD_CLI_LIMITS = {
  /** The move lock's lease; renewed every third of it while the move runs (locking/lease.ts). */
  moveLeaseMs: 30_000,
  /** Connections per shard pool the CLI opens. */
  poolMax: 4,
  /** The most shard databases `agora cluster --order-shards` creates per service. */
  clusterShardsMax: 8,
} as const;

/** What a move does to the map: add a database, remove a shard, or change weights (none: only put keys where the map says). */
export type MapChange = { kind: 'add'; url: string; weight?: number } | { kind: 'remove'; id: string } | { kind: 'rebalance'; weights?: Readonly<Record<string, number>> };

/** The map a change leads to (a ConfigError names the argument that is wrong). */
export function changedMap(from: ShardMap, change: MapChange): Omit<ShardMap, 'version' | 'service'> {
  const members = [...from.members];
  switch (change.kind) {
    case 'add': {
      if (from.strategy !== 'hash') throw new ConfigError('URL', `the ${from.service} map splits key ranges: add a shard by a rebalance that names its interval`);
      if (members.some((m) => m.url === change.url)) throw new ConfigError('URL', `${redactUrl(change.url)} is already a shard of ${from.service}`);
      return { strategy: from.strategy, members: [...members, { id: nextShardId(from), url: change.url, weight: change.weight ?? 1 }] };
    }
    case 'remove': {
      const index = members.findIndex((m) => m.id === change.id);
      if (index < 0) throw new ConfigError('ID', `${from.service} has no shard ${change.id} (it has ${members.map((m) => m.id).join(', ')})`);
      if (members.length === 1) throw new ConfigError('ID', `${change.id} is the only shard of ${from.service}`);
      const rest = members.filter((m) => m.id !== change.id);
      return { strategy: from.strategy, members: from.strategy === 'range' ? withoutInterval(members, index) : rest };
    }
    case 'rebalance': {
      const weights = change.weights ?? {};
      for (const id of Object.keys(weights)) if (!members.some((m) => m.id === id)) throw new ConfigError('--weights', `${from.service} has no shard ${id}`);
      return { strategy: from.strategy, members: members.map((m) => (weights[m.id] === undefined ? m : { ...m, weight: weights[m.id] })) };
    }
  }
}

/** A removed range's keys go to the interval before it (or after it, for the first). */
function withoutInterval(members: readonly ShardMember[], index: number): ShardMember[] {
  const removed = members[index]!;
  return members
    .filter((_, i) => i !== index)
    .map((m) => {
      const range = m.range;
      if (!range || !removed.range) return m;
      if (range.to === removed.range.from) return { ...m, range: { from: range.from, to: removed.range.to } };
      if (removed.range.from === '' && range.from === removed.range.to) return { ...m, range: { from: '', to: range.to } };
      return m;
    });
}

/**
 * Runs one move of a service's keys to the changed map, online, under the service's move lock (one
 * move at a time; the map write is fenced by the lock's token). `main` is the service's main
 * database (the map and the lock live there).
 */
export async function moveShards(options: {
  service: ShardedService;
  main: Storage;
  change: MapChange;
  logger: Logger;
  /** Seeds the map when none is stored yet (the service's `<SERVICE>_SHARDS`). */
  seedUrls?: readonly string[];
  limits?: MoveOptions['limits'];
  onPhase?: MoveOptions['onPhase'];
}): Promise<MoveReport> {
  const { service, main, logger } = options;
  const { data, migrations } = SHARDED_SERVICES[service];
  const store = new ShardMapStore(main);
  await store.ensure();
  const locks = postgresLocks({ storage: main, schema: 'sharding', logger });
  const opened = new Map<string, Storage>();
  try {
    return await locks.withLock(shardMoveLockName(service), { leaseMs: SHARD_CLI_LIMITS.moveLeaseMs }, async (lock) => {
      const from = await store.loadOrCreate(initialMap(service, options.seedUrls));
      const storageOf = async (member: ShardMember): Promise<Storage> => {
        if (member.url === null) return main;
        let storage = opened.get(member.url);
        if (!storage) {
          storage = new PostgresStorage({ url: member.url, poolMax: SHARD_CLI_LIMITS.poolMax });
          opened.set(member.url, storage);
          await storage.migrate(service, migrations);
        }
        return storage;
      };
      return moveKeys({
        store,
        data,
        from,
        target: changedMap(from, options.change),
        storageOf,
        fence: lock.token,
        logger,
        ...(options.limits ? { limits: options.limits } : {}),
        ...(options.onPhase ? { onPhase: options.onPhase } : {}),
      });
    });
  } finally {
    await locks.close();
    await Promise.all([...opened.values()].map((s) => s.close()));
  }
}

/** `agora shards list`: the newest map of a service, and the keys (shoppers) each shard holds. */
export async function describeShards(service: ShardedService, main: Storage): Promise<{ map: StoredShardMap | undefined; keys: Record<string, number | string> }> {
  const map = await new ShardMapStore(main).latest(service);
  const keys: Record<string, number | string> = {};
  for (const member of map?.members ?? []) {
    const storage = member.url === null ? main : new PostgresStorage({ url: member.url, poolMax: 1 });
    try {
      keys[member.id] = (await SHARDED_SERVICES[service].data.keys(storage)).length;
    } catch (err) {
      keys[member.id] = `unreachable (${err instanceof Error ? err.message : String(err)})`;
    } finally {
      if (storage !== main) await storage.close();
    }
  }
  return { map, keys };
}

export function formatShards(service: string, described: Awaited<ReturnType<typeof describeShards>>): string {
  const { map, keys } = described;
  if (!map) return `${service}: no shard map yet (the first start writes one)\n`;
  const lines = [`${service}: version ${map.version}, ${map.strategy}, written ${map.createdAt}`];
  for (const m of map.members) {
    const where = m.url === null ? '(main database)' : redactUrl(m.url);
    const share = map.strategy === 'range' ? `[${m.range?.from ?? ''}, ${m.range?.to ?? '∞'})` : `weight ${m.weight ?? 1}`;
    lines.push(`  ${m.id}  ${where}  ${share}  shoppers: ${keys[m.id] ?? '?'}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * `agora cluster --order-shards N`: N shard databases next to DATABASE_URL's
 * (`<database>_<service>_s0`, ...), created when missing; returns their URLs for `<SERVICE>_SHARDS`.
 */
export async function ensureShardDatabases(databaseUrl: string, service: ShardedService, count: number): Promise<string[]> {
  if (!Number.isInteger(count) || count < 1 || count > SHARD_CLI_LIMITS.clusterShardsMax) throw new RangeError(`shard count must be 1..${SHARD_CLI_LIMITS.clusterShardsMax}, got ${count}`);
  const base = new URL(databaseUrl);
  const database = decodeURIComponent(base.pathname.slice(1));
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const urls: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = `${database}_${service}_s${i}`;
      if (!/^[A-Za-z0-9_]{1,63}$/.test(name)) throw new RangeError(`shard database name ${name} is not a plain identifier of at most 63 characters`);
      const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
      if (!rowCount) await client.query(`create database "${name}"`).catch((err: unknown) => {
        // Another process created it between the look and the create.
        if ((err as { code?: string }).code !== '42P04') throw err;
      });
      const url = new URL(base);
      url.pathname = `/${name}`;
      urls.push(url.toString());
    }
    return urls;
  } finally {
    await client.end();
  }
}

const SHARDS_USAGE = `usage:
  agora shards list [--service order,cart]
  agora shards add URL [--service order,cart] [--weight W]     a new shard; its shoppers move to it online
  agora shards remove ID [--service order,cart]                 its shoppers move to the other shards; then it leaves the map
  agora shards rebalance [--service order,cart] [--weights s0=2,s1=1]
                                                                 new weights (or none), and every shopper onto the shard the map gives`;

/** `agora shards ...` (main.ts): prints the maps or runs one move per service, in order. */
export async function runShardsCommand(config: AgoraConfig, args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { service: { type: 'string', default: 'order,cart' }, weight: { type: 'string' }, weights: { type: 'string' } },
    allowPositionals: true,
  });
  const [action, target] = positionals;
  const services = (values.service ?? '').split(',').map((s) => s.trim());
  for (const service of services) if (!(service in SHARDED_SERVICES)) throw new ConfigError('--service', `must list order and/or cart, got ${service}`);
  let change: MapChange | undefined;
  if (action === 'add' && target) change = { kind: 'add', url: target, ...(values.weight ? { weight: Number(values.weight) } : {}) };
  else if (action === 'remove' && target) change = { kind: 'remove', id: target };
  else if (action === 'rebalance') change = { kind: 'rebalance', ...(values.weights ? { weights: parseWeights(values.weights) } : {}) };
  else if (action !== 'list') {
    process.stderr.write(`${SHARDS_USAGE}\n`);
    return 2;
  }
  const logger = createLogger('shards', config.logLevel);
  // The clean-up waits three of the instances' poll intervals: read the same setting they do.
  const pollMs = new EnvReader(process.env).int(SHARDING_ENV.pollIntervalMs, SHARD_ROUTER_DEFAULTS.pollIntervalMs, { min: 50, max: 60_000 });
  const storages = new StorageSet(config);
  try {
    await migrateAll(storages);
    for (const service of services as ShardedService[]) {
      const main = await storages.forService(service);
      if (change) {
        const report = await moveShards({
          service,
          main,
          change,
          logger,
          limits: { graceMs: 3 * pollMs },
          ...(config.shards[service] ? { seedUrls: config.shards[service] } : {}),
          onPhase: (phase, detail) => void process.stdout.write(`${service}: ${phase} ${Object.keys(detail).length > 0 ? JSON.stringify(detail) : ''}\n`),
        });
        process.stdout.write(`${service}: map v${report.fromVersion} -> v${report.toVersion}, ${report.movedKeys} shopper(s) moved ${JSON.stringify(report.routes)}, frozen ${report.frozenMs} ms, ${report.durationMs} ms in all\n`);
      }
      process.stdout.write(formatShards(service, await describeShards(service, main)));
    }
    return 0;
  } finally {
    await storages.close();
  }
}

function parseWeights(raw: string): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const part of raw.split(',')) {
    const [id, value] = part.split('=');
    const weight = Number(value);
    if (!id || !(weight > 0)) throw new ConfigError('--weights', `must read s0=2,s1=1 (positive weights), got ${part}`);
    weights[id.trim()] = weight;
  }
  return weights;
}
