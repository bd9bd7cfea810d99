import { sql } from 'drizzle-orm';
import type { ShardedData } from '@agora/platform';

/**
 * What moves with a shopper between cart shards (docs/sharding.md): the cart, its lines and the
 * order ids already taken out of it. Every cart change is one statement, so a freeze (which waits
 * for running writers) leaves no work running: a frozen cart is quiet at once.
 */
export const CART_SHARDED_DATA: ShardedData = {
  service: 'cart',
  // In the order the cart's statements lock them (checkedOut: applied orders, lines, cart; the
  // others: lines, cart): a freeze locks them in this order too, so it never deadlocks with one.
  guarded: [
    { table: 'cart.checked_out_orders', keyColumn: 'user_id' },
    { table: 'cart.cart_lines', keyColumn: 'user_id' },
    { table: 'cart.carts', keyColumn: 'user_id' },
  ],
  knownKey: 'exists (select 1 from cart.carts x where x.user_id = $KEY) or exists (select 1 from cart.checked_out_orders x where x.user_id = $KEY)',
  moved: [
    { table: 'cart.carts', rowsOf: (keys) => sql`t.user_id = any(${keys}::uuid[])` },
    { table: 'cart.cart_lines', rowsOf: (keys) => sql`t.user_id = any(${keys}::uuid[])` },
    { table: 'cart.checked_out_orders', rowsOf: (keys) => sql`t.user_id = any(${keys}::uuid[])` },
  ],
  async keys(storage, executor) {
    const rows = await storage.query<{ key: string }>(
      sql`select user_id::text as key from cart.carts union select distinct user_id::text from cart.checked_out_orders`,
      executor,
    );
    return rows.map((r) => r.key);
  },
  pendingWork: async () => 0,
};
