import { sql } from 'drizzle-orm';
import { check, index, integer, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const cartSchema = pgSchema('cart');

/**
 * One row per user with a cart. Every change locks it first (`FOR UPDATE` through an upsert), so
 * changes to one cart are serialized and the line limit holds under concurrent adds; `version`
 * counts the changes.
 */
export const carts = cartSchema.table('carts', {
  userId: uuid('user_id').primaryKey(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  version: integer('version').notNull().default(0),
});

export const cartLines = cartSchema.table(
  'cart_lines',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => carts.userId, { onDelete: 'cascade' }),
    sku: text('sku').notNull(),
    quantity: integer('quantity').notNull(),
    addedAt: timestamp('added_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  // 99 = LIMITS.cartQuantityMax, spelled out so the migration SQL stays a plain constant.
  (t) => [primaryKey({ columns: [t.userId, t.sku] }), check('cart_lines_quantity_range', sql`${t.quantity} between 1 and 99`)],
);

/**
 * Orders whose checkout already took their lines out of this user's cart: `POST /cart/checked-out`
 * is applied once per order id. Kept next to the cart (same shard, same user key).
 */
export const checkedOutOrders = cartSchema.table(
  'checked_out_orders',
  {
    userId: uuid('user_id').notNull(),
    orderId: uuid('order_id').notNull(),
    appliedAt: timestamp('applied_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.orderId] }), index('checked_out_orders_applied_at').on(t.appliedAt)],
);
