import { sql, type SQL } from 'drizzle-orm';
import type { Storage, Tx } from '@agora/platform';
import { TERMINAL_STATUSES } from '../domain/status.js';
import { addMonths, monthBound, partitionSuffix, type Month } from './partitions.js';

/**
 * A month of orders leaving a shard (`agora orders archive`, docs/sharding.md): what it holds, read
 * in one snapshot, and the drop of its partitions once a verified copy exists elsewhere.
 */
export const MONTH_ARCHIVE_LIMITS = {
  /** Orders read per round of an export (with their lines, history, keys, sagas and steps): bounded memory. */
  ordersPerRead: 500,
  /** The longest the drop waits for running statements on the orders tables; it is refused after that (run it again). */
  lockTimeoutMs: 5_000,
} as const;

/** Every table a month's rows are in, parents first. The archive file holds rows of these, named so. */
export const ARCHIVED_TABLES = ['orders.orders', 'orders.order_lines', 'orders.order_history', 'orders.order_keys', 'orders.sagas', 'orders.saga_steps'] as const;
export type ArchivedTable = (typeof ARCHIVED_TABLES)[number];

/** Rows per table and an order-independent sum of their hashes: equal digests, the same rows. */
export interface MonthDigest {
  rows: Record<ArchivedTable, number>;
  sums: Record<ArchivedTable, string>;
}

/** Why a month cannot leave yet: orders not in a final status, sagas of its orders still running. */
export interface MonthReadiness {
  orders: number;
  notFinal: number;
  unfinishedSagas: number;
}

/** The ids of the month's orders' sagas (a checkout saga's id is its order's; a cancel saga's is on the order). */
const sagaIds = (orders: SQL): SQL => sql`select o.id from orders.orders o where ${orders} union select o.cancel_saga_id from orders.orders o where ${orders} and o.cancel_saga_id is not null`;

/** Each table's rows of the orders `orders` selects (a condition on orders.orders aliased `o`), as a condition on the table aliased `t`. */
function rowsOf(table: ArchivedTable, orders: SQL): SQL {
  switch (table) {
    case 'orders.orders':
      return sql`t.id in (select o.id from orders.orders o where ${orders})`;
    case 'orders.order_lines':
    case 'orders.order_history':
    case 'orders.order_keys':
      return sql`t.order_id in (select o.id from orders.orders o where ${orders})`;
    case 'orders.sagas':
      return sql`t.id in (${sagaIds(orders)})`;
    case 'orders.saga_steps':
      return sql`t.saga_id in (${sagaIds(orders)})`;
  }
}

/** The month's orders: its id range (the partition's bounds). */
function inMonth(month: Month): SQL {
  return sql`o.id >= ${monthBound(month)}::uuid and o.id < ${monthBound(addMonths(month, 1))}::uuid`;
}

export async function monthReadiness(storage: Storage, month: Month, executor?: Tx): Promise<MonthReadiness> {
  const final = sql.join(
    TERMINAL_STATUSES.map((s) => sql`${s}`),
    sql`, `,
  );
  const [row] = await storage.query<{ orders: number | string; not_final: number | string; unfinished: number | string }>(
    sql`select (select count(*) from orders.orders o where ${inMonth(month)}) as orders,
               (select count(*) from orders.orders o where ${inMonth(month)} and o.status not in (${final})) as not_final,
               (select count(*) from orders.sagas t where ${rowsOf('orders.sagas', inMonth(month))} and t.finished_at is null) as unfinished`,
    executor,
  );
  return { orders: Number(row?.orders ?? 0), notFinal: Number(row?.not_final ?? 0), unfinishedSagas: Number(row?.unfinished ?? 0) };
}

/** The month's digest, in one statement (one snapshot). */
export async function monthDigest(storage: Storage, month: Month, executor?: Tx): Promise<MonthDigest> {
  // 60 bits of each row's md5, summed as numeric: no overflow, and independent of the order rows are read in.
  const parts = ARCHIVED_TABLES.map(
    (table) => sql`(select json_build_array(count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text)
                    from ${sql.raw(table)} t where ${rowsOf(table, inMonth(month))})`,
  );
  const [row] = await storage.query<{ parts: [number, string][] }>(sql`select json_build_array(${sql.join(parts, sql`, `)}) as parts`, executor);
  const digest: MonthDigest = { rows: {} as MonthDigest['rows'], sums: {} as MonthDigest['sums'] };
  ARCHIVED_TABLES.forEach((table, i) => {
    const [rows, sum] = row?.parts[i] ?? [0, '0'];
    digest.rows[table] = Number(rows);
    digest.sums[table] = String(sum);
  });
  return digest;
}

export function sameDigest(a: MonthDigest, b: MonthDigest): boolean {
  return ARCHIVED_TABLES.every((t) => a.rows[t] === b.rows[t] && a.sums[t] === b.sums[t]);
}

/**
 * Reads every row of the month in one REPEATABLE READ snapshot, `ordersPerRead` orders at a time
 * (each with all its rows, as JSON: the row as PostgreSQL has it), handing each to `write`.
 * Returns the digest of that same snapshot, to check the copy against and to drop by.
 */
export async function exportMonth(storage: Storage, month: Month, write: (table: ArchivedTable, row: unknown) => Promise<void>): Promise<MonthDigest> {
  return storage.transaction(async (tx) => {
    await storage.query(sql`set transaction isolation level repeatable read`, tx);
    const digest = await monthDigest(storage, month, tx);
    let after: string | undefined;
    for (;;) {
      const batch = sql`${inMonth(month)} and o.id in (select o2.id from orders.orders o2
        where o2.id >= ${monthBound(month)}::uuid and o2.id < ${monthBound(addMonths(month, 1))}::uuid ${after ? sql`and o2.id > ${after}::uuid` : sql``}
        order by o2.id limit ${MONTH_ARCHIVE_LIMITS.ordersPerRead})`;
      const reads = ARCHIVED_TABLES.map((table) => sql`(select coalesce(json_agg(t), '[]'::json) from ${sql.raw(table)} t where ${rowsOf(table, batch)})`);
      const [read] = await storage.query<{ tables: unknown[][] }>(sql`select json_build_array(${sql.join(reads, sql`, `)}) as tables`, tx);
      const orders = (read?.tables[0] ?? []) as { id: string }[];
      if (orders.length === 0) break;
      for (const [i, table] of ARCHIVED_TABLES.entries()) for (const row of read?.tables[i] ?? []) await write(table, row);
      after = orders.reduce((max, o) => (o.id > max ? o.id : max), orders[0]!.id);
    }
    return digest;
  });
}

/** A month whose rows changed between its export and its drop: nothing was dropped; export it again. */
export class MonthChangedError extends Error {
  constructor(month: Month, readonly readiness: MonthReadiness) {
    super(`orders of ${month} changed since they were exported (${readiness.notFinal} not final, ${readiness.unfinishedSagas} unfinished sagas); nothing dropped, run the archive again`);
    this.name = 'MonthChangedError';
  }
}

/**
 * Drops the month from this shard, in one transaction, only if its rows are still exactly those
 * `exported` describes (a verified copy holds them): its keys, sagas and saga steps are deleted,
 * its history and lines partitions dropped, its orders partition detached and dropped. The
 * orders tables are locked first, in the order a checkout writes them (orders, lines, history),
 * so a running checkout finishes before and the next one waits for the commit.
 */
export async function dropMonth(storage: Storage, month: Month, exported: MonthDigest): Promise<void> {
  const suffix = partitionSuffix(month);
  await storage.transaction(async (tx) => {
    await storage.query(sql.raw(`set local lock_timeout = ${MONTH_ARCHIVE_LIMITS.lockTimeoutMs}`), tx);
    await storage.query(sql`lock table orders.orders, orders.order_lines, orders.order_history in access exclusive mode`, tx);
    const now = await monthDigest(storage, month, tx);
    if (!sameDigest(now, exported)) throw new MonthChangedError(month, await monthReadiness(storage, month, tx));
    const orders = inMonth(month);
    for (const table of ['orders.saga_steps', 'orders.sagas', 'orders.order_keys'] as const) {
      await storage.query(sql`delete from ${sql.raw(table)} t where ${rowsOf(table, orders)}`, tx);
    }
    await storage.query(sql.raw(`drop table orders.order_history_${suffix}`), tx);
    await storage.query(sql.raw(`drop table orders.order_lines_${suffix}`), tx);
    await storage.query(sql.raw(`alter table orders.orders detach partition orders.orders_${suffix}`), tx);
    await storage.query(sql.raw(`drop table orders.orders_${suffix}`), tx);
  });
}
