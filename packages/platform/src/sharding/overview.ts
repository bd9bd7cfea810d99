import { sql } from 'drizzle-orm';
import type { ShardOverviewService } from '@agora/contracts';
import { HashRing } from '../hashing/ring.js';
import type { Storage } from '../storage/storage.js';
import type { ShardMember } from './map.js';
import { ShardMapStore } from './map-store.js';

/** What a service's shards are counted by: its root table and the shopper column that keys it. */
export interface CountedTable {
  /** `schema.table`, e.g. `orders.orders`. */
  table: string;
  keyColumn: string;
  /** How the admin page names the rows: `orders`, `cart lines`. */
  label: string;
}

const QUALIFIED = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** The shards of one service as its newest map lists them, the one before the first map included. */
const FIRST_SHARD: ShardMember = { id: 's0', url: null };

/**
 * A sharded service as the admin's Shards page shows it: its newest map, each member's share of
 * the hash ring (exact arcs, `HashRing.shares`) or its key range, the shoppers and rows each shard
 * holds (one count per shard; a shard that cannot be read says why instead), and its newest move
 * (`sharding.moves`, written by every phase of moveKeys). `shardOf` opens a member's database;
 * `release` is called with it after counting (not for the main database).
 */
export async function serviceShardOverview(
  service: string,
  main: Storage,
  counted: CountedTable,
  shardOf: (url: string) => Promise<Storage>,
  release: (storage: Storage) => Promise<void>,
): Promise<ShardOverviewService> {
  if (!QUALIFIED.test(counted.table) || !IDENTIFIER.test(counted.keyColumn)) throw new RangeError(`counted table ${counted.table}.${counted.keyColumn} is not schema.table + column`);
  const store = new ShardMapStore(main);
  const [map, move] = await Promise.all([store.latest(service), store.lastMove(service)]);
  const members = map?.members ?? [FIRST_SHARD];
  const strategy = map?.strategy ?? 'hash';
  const shares = strategy === 'hash' ? ringShares(members) : undefined;
  const rows = await Promise.all(
    members.map(async (member) => {
      const base = {
        id: member.id,
        where: member.url === null ? 'main database' : whereOf(member.url),
        weight: strategy === 'hash' ? (member.weight ?? 1) : null,
        share: shares?.get(member.id) ?? null,
        range: member.range ? { from: member.range.from, to: member.range.to } : null,
      };
      try {
        const counts = await countOn(member.url === null ? main : await shardOf(member.url), member.url !== null, counted, release);
        return { ...base, ...counts, error: null };
      } catch (err) {
        return { ...base, shoppers: null, rows: null, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
  return {
    service,
    counted: counted.label,
    version: map?.version ?? 1,
    strategy,
    createdAt: map?.createdAt ?? null,
    members: rows,
    move: move ? { fromVersion: move.fromVersion, toVersion: move.toVersion, phase: move.phase, outcome: move.outcome, detail: move.detail, startedAt: move.startedAt, updatedAt: move.updatedAt } : null,
  };
}

async function countOn(storage: Storage, opened: boolean, counted: CountedTable, release: (storage: Storage) => Promise<void>): Promise<{ shoppers: number; rows: number }> {
  try {
    const [row] = await storage.query<{ shoppers: number | string; rows: number | string }>(
      sql`select count(distinct ${sql.raw(counted.keyColumn)}) as shoppers, count(*) as rows from ${sql.raw(counted.table)}`,
    );
    return { shoppers: Number(row?.shoppers ?? 0), rows: Number(row?.rows ?? 0) };
  } finally {
    if (opened) await release(storage);
  }
}

/** Each member's exact share of the ring a hash map builds (as HashStrategy builds it). */
function ringShares(members: readonly ShardMember[]): Map<string, number> {
  const ring = new HashRing<string>();
  for (const member of members) ring.add(member.id, member.id, member.weight ?? 1);
  return ring.shares();
}

/** host:port/database of a shard URL: never its user or password. */
function whereOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname}`;
  } catch {
    return 'unparsable URL';
  }
}
