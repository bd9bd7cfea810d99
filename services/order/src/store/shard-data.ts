import { sql, type SQL } from 'drizzle-orm';
import { textArray, type ShardedData } from '@agora/platform';

/** The saga ids of the keys' orders: a checkout saga's id is its order's; a cancel saga's is on the order. */
const sagaIdsOf = (keys: SQL): SQL => sql`
  select o.id from orders.orders o where o.user_id = any(${keys}::uuid[])
  union all select o.cancel_saga_id from orders.orders o where o.user_id = any(${keys}::uuid[]) and o.cancel_saga_id is not null`;

/**
 * What moves with a shopper between order shards (docs/sharding.md): the orders with their lines
 * and history, their Idempotency-Keys (order_keys) and answers, and the orders' sagas with their steps.
 * Facts in the outbox stay where they were published; a shopper moves only once every fact of
 * theirs is published and every saga of theirs has finished.
 */
export const ORDER_SHARDED_DATA: ShardedData = {
  service: 'order',
  guarded: [
    {
      table: 'orders.orders',
      keyColumn: 'user_id',
      // A frozen shopper's running sagas go on (their writes update orders); a new cancellation does not start.
      frozenAllowsUpdate: 'not (old.cancel_saga_id is null and new.cancel_saga_id is not null)',
    },
  ],
  knownKey: 'exists (select 1 from orders.orders x where x.user_id = $KEY)',
  moved: [
    { table: 'orders.orders', rowsOf: (keys) => sql`t.user_id = any(${keys}::uuid[])` },
    { table: 'orders.order_keys', rowsOf: (keys) => sql`t.user_id = any(${keys}::uuid[])` },
    { table: 'orders.order_lines', rowsOf: (keys) => sql`t.order_id in (select o.id from orders.orders o where o.user_id = any(${keys}::uuid[]))` },
    { table: 'orders.order_history', rowsOf: (keys) => sql`t.order_id in (select o.id from orders.orders o where o.user_id = any(${keys}::uuid[]))` },
    { table: 'orders.sagas', rowsOf: (keys) => sql`t.id in (${sagaIdsOf(keys)})` },
    { table: 'orders.saga_steps', rowsOf: (keys) => sql`t.saga_id in (${sagaIdsOf(keys)})` },
  ],
  async keys(storage, executor) {
    const rows = await storage.query<{ key: string }>(sql`select distinct user_id::text as key from orders.orders`, executor);
    return rows.map((r) => r.key);
  },
  async busyKeys(storage, keys) {
    const rows = await storage.query<{ key: string }>(sql`
      select distinct o.user_id::text as key from orders.orders o join orders.sagas s on s.id = o.id or s.id = o.cancel_saga_id
      where s.finished_at is null and o.user_id = any(${textArray(keys)}::uuid[])`);
    return rows.map((r) => r.key);
  },
  async pendingWork(storage, keys) {
    const list = textArray(keys);
    const [row] = await storage.query<{ pending: number | string }>(sql`
      select (select count(*) from orders.sagas s where s.finished_at is null and s.id in (${sagaIdsOf(list)}))
           + (select count(*) from orders.outbox x where x.published_at is null
                and x.key in (select o.id::text from orders.orders o where o.user_id = any(${list}::uuid[]))) as pending`);
    return Number(row?.pending ?? 0);
  },
};
