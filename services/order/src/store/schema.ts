import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, jsonb, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { outboxTable, sagaTables } from '@agora/platform';

/** `order` is an SQL keyword; the service's schema is `orders`. */
export const ordersSchema = pgSchema('orders');

// orders, order_lines and order_history are partitioned by the month of the order's id (migration
// 0004_orders_by_month.sql, partitions.ts; drizzle cannot declare partitions, so the SQL is by hand).

export const orders = ordersSchema.table(
  'orders',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id').notNull(),
    status: text('status').notNull(),
    currency: text('currency').notNull(),
    totalAmount: bigint('total_amount', { mode: 'number' }).notNull(),
    shippingAddress: jsonb('shipping_address'),
    /** The client's Idempotency-Key: one order per (user, key), whatever the retries (kept exact by order_keys). */
    idempotencyKey: text('idempotency_key').notNull(),
    /** hashRequest(body) of the checkout that opened it: the same key with another body is refused. */
    requestHash: text('request_hash'),
    /**
     * The checkout's answer, kept with the order it answers for the 24 h an Idempotency-Key lives:
     * a retry with the key gets it back, byte for byte (201 and the order, 202, or a 4xx problem).
     */
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    /** The saga that cancels this order, once one was started (set once, guarded). */
    cancelSagaId: uuid('cancel_saga_id'),
    /** A flash-sale order's payment deadline (its sale's window, or the shop's default, from its opening); null on other orders. */
    payBy: timestamp('pay_by', { withTimezone: true, mode: 'date' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    index('orders_user_id_idx').on(t.userId, t.id),
    index('orders_status_id_idx').on(t.status, t.id),
    check('orders_total_non_negative', sql`${t.totalAmount} >= 0`),
    check(
      'orders_status_known',
      sql`${t.status} in ('PENDING', 'RESERVED', 'CONFIRMED', 'REJECTED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED')`,
    ),
  ],
);

export const orderLines = ordersSchema.table(
  'order_lines',
  {
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    sku: text('sku').notNull(),
    title: text('title').notNull(),
    quantity: integer('quantity').notNull(),
    unitAmount: bigint('unit_amount', { mode: 'number' }).notNull(),
    lineAmount: bigint('line_amount', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.orderId, t.sku] }), check('order_lines_quantity_positive', sql`${t.quantity} > 0`)],
);

export const orderHistory = ordersSchema.table(
  'order_history',
  {
    id: uuid('id').notNull(),
    orderId: uuid('order_id')
      .notNull()
      .references(() => orders.id, { onDelete: 'cascade' }),
    status: text('status').notNull(),
    reason: text('reason'),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  // The primary key holds the partition key (order_id), as a partitioned table's unique indexes must.
  (t) => [primaryKey({ columns: [t.orderId, t.id] }), index('order_history_order_idx').on(t.orderId, t.at)],
);

/**
 * One order per (user, Idempotency-Key): a unique index of `orders` would have to hold its
 * partition key, so the pair lives here, in a table that is not partitioned, written by the
 * statement that opens the order. No foreign key, by design (see the migration).
 */
export const orderKeys = ordersSchema.table(
  'order_keys',
  {
    userId: uuid('user_id').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    orderId: uuid('order_id').notNull(),
  },
  (t) => [primaryKey({ name: 'order_keys_pk', columns: [t.userId, t.idempotencyKey] }), index('order_keys_order_idx').on(t.orderId)],
);

export const { sagas, sagaSteps } = sagaTables(ordersSchema);
export const outbox = outboxTable(ordersSchema);
