import { sql } from 'drizzle-orm';
import { advisoryKey, type Storage } from '../storage/storage.js';
import { advanceFence } from '../locking/fence.js';
import type { FencingToken } from '../locking/lock.js';
import { assertValidMap, type ShardMap, type ShardMember, type ShardStrategyName } from './map.js';

/**
 * The control schema, in the service's main database (not on a shard: the map says where the
 * shards are). One row per version; the newest row of a service is its map.
 */
export const SHARDING_SCHEMA = 'sharding';

/** The lock (and fenced resource) of a service's shard map: one move at a time. */
export function shardMoveLockName(service: string): string {
  return `shard-map:${service}`;
}

interface MapRow {
  service: string;
  version: number;
  strategy: string;
  members: ShardMember[];
  fence: string | number;
  created_at: Date | string;
}

/** Where a move stands: its phase (mover.ts), and once it ended, how. */
export interface ShardMoveProgress {
  service: string;
  fromVersion: number;
  toVersion: number;
  /** A MovePhase while running; the last phase reached once ended. */
  phase: string;
  outcome: 'running' | 'done' | 'abandoned';
  /** What the phase knows: keys frozen, the new version, the report at the end, the error of an abandoned move. */
  detail: Record<string, unknown>;
  startedAt: string;
  updatedAt: string;
}

interface MoveRow {
  service: string;
  from_version: number;
  to_version: number;
  phase: string;
  outcome: ShardMoveProgress['outcome'];
  detail: Record<string, unknown>;
  started_at: Date | string;
  updated_at: Date | string;
}

export interface StoredShardMap extends ShardMap {
  readonly createdAt: string;
  /** The fencing token of the move that wrote it (0 for a first map). */
  readonly fence: bigint;
}

function mapOf(row: MapRow): StoredShardMap {
  return {
    service: row.service,
    version: Number(row.version),
    strategy: row.strategy as ShardStrategyName,
    members: row.members,
    fence: BigInt(row.fence),
    createdAt: new Date(row.created_at).toISOString(),
  };
}

/**
 * Reads and writes shard maps. Writes are compare-and-set on the version (the primary key makes
 * two writers of version n+1 collide; the loser learns it lost) and, for moves, fenced: a map
 * carrying a fencing token below the newest one written is refused, so a mover that lost its lock
 * while paused can never publish its stale plan.
 */
export class ShardMapStore {
  private readonly listeners = new Set<(service: string, version: number) => void>();
  private ready: Promise<void> | undefined;

  constructor(readonly storage: Storage) {}

  /** Creates the control schema once (under an advisory lock: processes start together). */
  ensure(): Promise<void> {
    this.ready ??= this.storage
      .transaction(async (tx) => {
        await this.storage.query(sql`select pg_advisory_xact_lock(${advisoryKey('agora:sharding:schema')})`, tx);
        await this.storage.query(sql`create schema if not exists sharding`, tx);
        await this.storage.query(
          sql`create table if not exists sharding.shard_maps (
                service text not null,
                version integer not null check (version >= 1),
                strategy text not null check (strategy in ('hash', 'range')),
                members jsonb not null,
                fence bigint not null default 0,
                created_at timestamptz not null default now(),
                primary key (service, version))`,
          tx,
        );
        // The lock a move holds (locking/postgres.ts) and the fence its map write advances (locking/fence.ts).
        await this.storage.query(
          sql`create table if not exists sharding.lock_leases (name text primary key, token bigint not null check (token > 0), owner text, expires_at timestamptz not null)`,
          tx,
        );
        await this.storage.query(
          sql`create table if not exists sharding.fencing_tokens (resource text primary key, token bigint not null check (token > 0), updated_at timestamptz not null)`,
          tx,
        );
        // The newest move of each service as it runs (moveKeys writes each phase): the admin's Shards page reads it.
        await this.storage.query(
          sql`create table if not exists sharding.moves (
                service text primary key,
                from_version integer not null,
                to_version integer not null,
                phase text not null,
                outcome text not null check (outcome in ('running', 'done', 'abandoned')),
                detail jsonb not null default '{}'::jsonb,
                started_at timestamptz not null,
                updated_at timestamptz not null)`,
          tx,
        );
      })
      .catch((err: unknown) => {
        this.ready = undefined;
        throw err;
      });
    return this.ready;
  }

  async latest(service: string): Promise<StoredShardMap | undefined> {
    await this.ensure();
    const [row] = await this.storage.query<MapRow>(
      sql`select service, version, strategy, members, fence, created_at from sharding.shard_maps where service = ${service} order by version desc limit 1`,
    );
    return row ? mapOf(row) : undefined;
  }

  /** The newest version number (0 when none): what every router polls, one index probe. */
  async latestVersion(service: string): Promise<number> {
    await this.ensure();
    const [row] = await this.storage.query<{ version: number | null }>(sql`select max(version) as version from sharding.shard_maps where service = ${service}`);
    return Number(row?.version ?? 0);
  }

  async history(service: string, limit: number): Promise<StoredShardMap[]> {
    await this.ensure();
    const rows = await this.storage.query<MapRow>(
      sql`select service, version, strategy, members, fence, created_at from sharding.shard_maps where service = ${service} order by version desc limit ${limit}`,
    );
    return rows.map(mapOf);
  }

  /**
   * Writes `map` as version `map.version`, which must be the newest + 1. Returns false when
   * another writer got there first. A move passes the fencing token of the lock it holds
   * (`shardMoveLockName`): the write advances the map's fence and throws StaleFencingTokenError
   * when a newer holder already wrote (this one's lease ran out while it was paused).
   */
  async write(map: ShardMap, fence?: FencingToken): Promise<boolean> {
    assertValidMap(map);
    await this.ensure();
    const written = await this.storage.transaction(async (tx) => {
      // One writer per service at a time, so the fence check and the insert see the same newest row.
      await this.storage.query(sql`select pg_advisory_xact_lock(${advisoryKey(`agora:sharding:map:${map.service}`)})`, tx);
      if (fence !== undefined) await advanceFence(this.storage, tx, { schema: SHARDING_SCHEMA, resource: shardMoveLockName(map.service), token: fence });
      const [newest] = await this.storage.query<{ version: number | null }>(sql`select max(version) as version from sharding.shard_maps where service = ${map.service}`, tx);
      if (Number(newest?.version ?? 0) !== map.version - 1) return false;
      await this.storage.query(
        sql`insert into sharding.shard_maps (service, version, strategy, members, fence)
            values (${map.service}, ${map.version}, ${map.strategy}, ${JSON.stringify(map.members)}::jsonb, ${(fence ?? 0n).toString()}::bigint)`,
        tx,
      );
      return true;
    });
    if (written) for (const listener of this.listeners) listener(map.service, map.version);
    return written;
  }

  /** The stored map, or `initial` written as version 1 when there is none yet (first start). */
  async loadOrCreate(initial: ShardMap): Promise<StoredShardMap> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const current = await this.latest(initial.service);
      if (current) return current;
      await this.write({ ...initial, version: 1 });
    }
    throw new Error(`shard map of ${initial.service}: neither found nor created`);
  }

  /**
   * Records where a move of `progress.service` stands: a move's first phase replaces the row of
   * the service's previous move (one row per service: the newest move, running or ended).
   */
  async noteMove(progress: Omit<ShardMoveProgress, 'startedAt' | 'updatedAt'>): Promise<void> {
    await this.ensure();
    const detail = JSON.stringify(progress.detail);
    await this.storage.query(
      sql`insert into sharding.moves (service, from_version, to_version, phase, outcome, detail, started_at, updated_at)
          values (${progress.service}, ${progress.fromVersion}, ${progress.toVersion}, ${progress.phase}, ${progress.outcome}, ${detail}::jsonb, now(), now())
          on conflict (service) do update set
            from_version = excluded.from_version, to_version = excluded.to_version, phase = excluded.phase, outcome = excluded.outcome,
            detail = excluded.detail, updated_at = now(),
            started_at = case when sharding.moves.from_version = excluded.from_version and sharding.moves.to_version = excluded.to_version
                              and sharding.moves.outcome = 'running' then sharding.moves.started_at else now() end`,
    );
  }

  /** The newest move of `service`, running or ended; undefined when none ever ran. */
  async lastMove(service: string): Promise<ShardMoveProgress | undefined> {
    await this.ensure();
    const [row] = await this.storage.query<MoveRow>(
      sql`select service, from_version, to_version, phase, outcome, detail, started_at, updated_at from sharding.moves where service = ${service}`,
    );
    if (!row) return undefined;
    return {
      service: row.service,
      fromVersion: Number(row.from_version),
      toVersion: Number(row.to_version),
      phase: row.phase,
      outcome: row.outcome,
      detail: row.detail,
      startedAt: new Date(row.started_at).toISOString(),
      updatedAt: new Date(row.updated_at).toISOString(),
    };
  }

  /** In-process subscribers learn of a write at once (routers of the same process); others poll. */
  onWrite(listener: (service: string, version: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** One shard of a service as its newest stored map lists it: the rows of the admin cluster view. */
export interface StoredShardRow {
  service: string;
  id: string;
  version: number;
}

/** The shards of `services`, each from the newest map in its main database (`mainOf`); a service without a map yet has its one shard. */
export async function storedShardRows(services: readonly string[], mainOf: (service: string) => Promise<Storage>): Promise<StoredShardRow[]> {
  const rows: StoredShardRow[] = [];
  for (const service of services) {
    const map = await new ShardMapStore(await mainOf(service)).latest(service);
    if (!map) rows.push({ service, id: 's0', version: 1 });
    else for (const member of map.members) rows.push({ service, id: member.id, version: map.version });
  }
  return rows;
}
