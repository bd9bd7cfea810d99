import { sql, type SQL } from 'drizzle-orm';
import { advisoryKey, pgErrorCode, type Executor, type Storage } from '../storage/storage.js';

/**
 * Shard fences: what makes a move safe while instances route by maps of different ages. On every
 * shard of a service a move installs a guard trigger on the tables that hold the service's keys;
 * the trigger reads two small tables of the shard's `sharding` schema:
 *
 * - `moved_keys(service, key, state)`: `frozen` while the key is being moved (new work refused:
 *   a new order, a cancellation, any cart change; work already running finishes), `moved` once it
 *   lives elsewhere (every write refused). A write refused by a fence fails with SQLSTATE AGS01
 *   (moving: wait and retry) or AGS02 (moved: re-read the map and retry on the new shard).
 * - `shard_state(service, closed)`: while a move finishes, a shard takes no key it has no rows
 *   of (a first write of a new user routed by an old map would otherwise land on a shard that is
 *   about to stop owning it).
 *
 * The trigger function is VOLATILE, so each of its reads takes a fresh snapshot: a writer that
 * checks after a freeze committed sees it. A writer that checked before holds its row lock on
 * the guarded table, and the freeze waits for it (it locks the tables in SHARE mode).
 */
export const SHARD_FENCE_CODES = {
  /** The key is being moved: the write is refused for now. */
  moving: 'AGS01',
  /** The key has moved to another shard: re-read the map. */
  moved: 'AGS02',
} as const;

export type ShardFence = keyof typeof SHARD_FENCE_CODES;

/** Which fence refused a statement, if one did. */
export function shardFenceOf(err: unknown): ShardFence | undefined {
  const code = pgErrorCode(err);
  if (code === SHARD_FENCE_CODES.moving) return 'moving';
  if (code === SHARD_FENCE_CODES.moved) return 'moved';
  return undefined;
}

/** Set (transaction-local) by a move's copy: the guards let its writes through. */
export const COPY_SETTING = 'agora.shard_copy';

/** `keys` as one `text[]` parameter (drizzle would spread a JS array into a list of parameters). */
export function textArray(keys: readonly string[]): SQL {
  return sql`array(select jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb))`;
}

/** A table holding a service's keys, guarded during moves. */
export interface GuardedTable {
  /** Schema-qualified: `orders.orders`. */
  table: string;
  keyColumn: string;
  /**
   * A PL/pgSQL condition over `old` and `new`: an UPDATE a frozen key may still make (work that was
   * running when the freeze came, e.g. a saga's own steps). Absent: a frozen key changes nothing.
   */
  frozenAllowsUpdate?: string;
}

/** A table whose rows move with their key, in dependency order (parents first). */
export interface MovedTable {
  table: string;
  /** The rows of `keys` (a text[] parameter), as a condition on the table aliased `t`. */
  rowsOf(keys: SQL): SQL;
}

/** What the mover must know of a sharded service's data. */
export interface ShardedData {
  service: string;
  /** In the order the service's statements lock them: a freeze takes its locks in this order. */
  guarded: readonly GuardedTable[];
  /** A PL/pgSQL condition: this shard holds rows of `new.<keyColumn>` already (a known key). */
  knownKey: string;
  moved: readonly MovedTable[];
  /** Every key with rows on a shard. */
  keys(storage: Storage, executor?: Executor): Promise<string[]>;
  /** Work still running for `keys` on a shard (unfinished sagas, facts not yet published): a key moves when it is 0. */
  pendingWork(storage: Storage, keys: readonly string[]): Promise<number>;
  /**
   * Those of `keys` whose rows another shard must not hold a copy of yet (an unfinished saga there
   * would be recovered and run twice): the first copy leaves them out; they are copied once quiet.
   */
  busyKeys?(storage: Storage, keys: readonly string[]): Promise<string[]>;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const QUALIFIED = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;

function assertShape(data: ShardedData): void {
  if (!IDENTIFIER.test(data.service)) throw new RangeError(`service must be an identifier, got ${data.service}`);
  for (const g of data.guarded) {
    if (!QUALIFIED.test(g.table) || !IDENTIFIER.test(g.keyColumn)) throw new RangeError(`guarded table ${g.table}.${g.keyColumn} is not schema.table + column`);
  }
  for (const m of data.moved) if (!QUALIFIED.test(m.table)) throw new RangeError(`moved table ${m.table} is not schema.table`);
}

/** The control tables and the guard triggers on one shard (idempotent; safe while writers run). */
export async function installGuards(storage: Storage, data: ShardedData): Promise<void> {
  assertShape(data);
  await storage.transaction(async (tx) => {
    await storage.query(sql`select pg_advisory_xact_lock(${advisoryKey('agora:sharding:guards')})`, tx);
    await storage.query(sql`create schema if not exists sharding`, tx);
    await storage.query(
      sql`create table if not exists sharding.moved_keys (
            service text not null, key text not null,
            state text not null check (state in ('frozen', 'moved')),
            updated_at timestamptz not null default now(),
            primary key (service, key))`,
      tx,
    );
    await storage.query(sql`create table if not exists sharding.shard_state (service text primary key, closed boolean not null default false)`, tx);
    for (const guarded of data.guarded) {
      const fn = `sharding.guard_${data.service}_${guarded.table.replace('.', '_')}`;
      const key = `new.${guarded.keyColumn}`;
      const known = data.knownKey.replaceAll('$KEY', key);
      const allowed = guarded.frozenAllowsUpdate ?? 'false';
      await storage.query(
        sql.raw(`create or replace function ${fn}() returns trigger language plpgsql volatile as $fn$
          declare marker text;
          begin
            -- A move's own copy (copy.ts) writes keys that are not routed here yet.
            if current_setting('${COPY_SETTING}', true) = 'on' then return new; end if;
            select m.state into marker from sharding.moved_keys m where m.service = '${data.service}' and m.key = ${key}::text;
            if marker = 'moved' then
              raise exception 'key % of ${data.service} moved to another shard', ${key} using errcode = '${SHARD_FENCE_CODES.moved}';
            end if;
            if marker = 'frozen' and (tg_op = 'INSERT' or not (${allowed})) then
              raise exception 'key % of ${data.service} is being moved', ${key} using errcode = '${SHARD_FENCE_CODES.moving}';
            end if;
            if marker is null and tg_op = 'INSERT'
               and exists (select 1 from sharding.shard_state s where s.service = '${data.service}' and s.closed)
               and not (${known}) then
              raise exception 'this ${data.service} shard takes no new key while a move finishes' using errcode = '${SHARD_FENCE_CODES.moving}';
            end if;
            return new;
          end $fn$`),
        tx,
      );
      await storage.query(sql.raw(`create or replace trigger agora_shard_guard before insert or update on ${guarded.table} for each row execute function ${fn}()`), tx);
    }
  });
}

/**
 * Freezes on one shard the keys `select` picks from every key it holds, and closes the shard to
 * unknown keys — in one transaction that first takes SHARE locks on the guarded tables, so every
 * write that passed its guard before has committed (its rows are listed) and every later one
 * meets the freeze. `lockTimeoutMs` bounds the wait for running writers.
 */
export async function freezeKeys(storage: Storage, data: ShardedData, select: (keys: string[]) => string[], lockTimeoutMs: number): Promise<string[]> {
  return storage.transaction(async (tx) => {
    await storage.query(sql.raw(`set local lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`), tx);
    await storage.query(sql.raw(`lock table ${data.guarded.map((g) => g.table).join(', ')} in share mode`), tx);
    await storage.query(sql`insert into sharding.shard_state (service, closed) values (${data.service}, true) on conflict (service) do update set closed = true`, tx);
    const frozen = select(await data.keys(storage, tx));
    if (frozen.length > 0) {
      await storage.query(
        sql`insert into sharding.moved_keys (service, key, state) select ${data.service}, k, 'frozen' from unnest(${textArray(frozen)}) as k
            on conflict (service, key) do update set state = 'frozen', updated_at = now()`,
        tx,
      );
    }
    return frozen;
  });
}

/** Sets the markers of `keys` on one shard: `moved` (they live elsewhere now) or none (they live here, or the move was abandoned). */
export async function setMarkers(storage: Storage, service: string, keys: readonly string[], state: 'moved' | 'none'): Promise<void> {
  if (keys.length === 0) return;
  if (state === 'none') {
    await storage.query(sql`delete from sharding.moved_keys where service = ${service} and key = any(${textArray(keys)})`);
    return;
  }
  await storage.query(
    sql`insert into sharding.moved_keys (service, key, state) select ${service}, k, 'moved' from unnest(${textArray(keys)}) as k
        on conflict (service, key) do update set state = 'moved', updated_at = now()`,
  );
}

/** Opens a shard to new keys again (the end of a move, or its abandonment). */
export async function reopenShard(storage: Storage, service: string): Promise<void> {
  await storage.query(sql`update sharding.shard_state set closed = false where service = ${service}`);
}
