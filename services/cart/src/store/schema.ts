import { sql } from 'drizzle-orm';
import { check, index, integer, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const cartSchema = pgSchema('cart');

/** The constraint names the store turns into the cart's limit errors. */
export const CART_LINE_COUNT_CHECK = 'carts_line_count_range';
export const CART_QUANTITY_CHECK = 'cart_lines_quantity_range';

/**
 * One row per user with a cart. Every change ends by upserting it (`version + 1`), which holds its
 * row lock to commit, so changes to one cart are serialized on it; `version` counts the changes.
 * `line_count` is the number of `cart_lines` rows, kept by the same upsert from the latest row
 * version (never a statement's snapshot), so the CHECK holds the line limit under concurrent adds.
 */
export const carts = cartSchema.table(
  'carts',
  {
    userId: uuid('user_id').primaryKey(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    version: integer('version').notNull().default(0),
    lineCount: integer('line_count').notNull().default(0),
  },
  // 100 = LIMITS.cartLinesMax, spelled out so the migration SQL stays a plain constant.
  (t) => [check(CART_LINE_COUNT_CHECK, sql`${t.lineCount} between 0 and 100`)],
);

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
  (t) => [primaryKey({ columns: [t.userId, t.sku] }), check(CART_QUANTITY_CHECK, sql`${t.quantity} between 1 and 99`)],
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
