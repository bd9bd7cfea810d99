import { sql } from 'drizzle-orm';
import { outboxTable } from '@agora/platform';
import { bigint, check, index, integer, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const inventorySchema = pgSchema('inventory');

/**
 * Stock per SKU. The CHECKs are the last line of defence: whatever the code does, the database
 * refuses negative stock and more reserved than on hand.
 */
export const stock = inventorySchema.table(
  'stock',
  {
    sku: text('sku').primaryKey(),
    onHand: integer('on_hand').notNull().default(0),
    reserved: integer('reserved').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    check('stock_on_hand_non_negative', sql`${t.onHand} >= 0`),
    check('stock_reserved_non_negative', sql`${t.reserved} >= 0`),
    check('stock_reserved_within_on_hand', sql`${t.reserved} <= ${t.onHand}`),
  ],
);

/**
 * A hold on stock for one order (id = the order id). Status moves only forward:
 * HELD → COMMITTED → RESTOCKED, HELD → RELEASED, HELD → EXPIRED; every move is one guarded
 * `UPDATE ... WHERE status = <from>` in the transaction that moves the stock.
 */
export const reservations = inventorySchema.table(
  'reservations',
  {
    id: uuid('id').primaryKey(),
    status: text('status', { enum: ['HELD', 'COMMITTED', 'RELEASED', 'EXPIRED', 'RESTOCKED'] }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    check('reservations_status_known', sql`${t.status} in ('HELD', 'COMMITTED', 'RELEASED', 'EXPIRED', 'RESTOCKED')`),
    // The sweeper's scan: only HELD rows, oldest expiry first.
    index('reservations_held_expiry').on(t.expiresAt).where(sql`${t.status} = 'HELD'`),
  ],
);

export const reservationLines = inventorySchema.table(
  'reservation_lines',
  {
    reservationId: uuid('reservation_id')
      .notNull()
      .references(() => reservations.id, { onDelete: 'cascade' }),
    sku: text('sku').notNull(),
    quantity: integer('quantity').notNull(),
  },
  (t) => [primaryKey({ columns: [t.reservationId, t.sku] }), check('reservation_lines_quantity_positive', sql`${t.quantity} > 0`)],
);

/** StockChanged facts, written in the transaction that moved the stock; the relay publishes them. */
export const outbox = outboxTable(inventorySchema);

/**
 * A flash sale: `quantity` units set aside from the SKU's stock when it was created (on hand
 * lowered by the guarded set-aside, in the transaction that wrote this row) and `sold` of them
 * taken by tickets. PostgreSQL keeps the truth: a take is `sold + q <= quantity`, and the CHECK
 * refuses more whatever Redis said (docs/flash-sales.md).
 */
export const flashSales = inventorySchema.table(
  'flash_sales',
  {
    id: uuid('id').primaryKey(),
    sku: text('sku').notNull(),
    quantity: integer('quantity').notNull(),
    sold: integer('sold').notNull().default(0),
    priceAmount: bigint('price_amount', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true, mode: 'date' }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true, mode: 'date' }).notNull(),
    perUserLimit: integer('per_user_limit').notNull(),
    /** Seconds a buyer has to pay an order of this sale; null: the order service's default. */
    paymentWindowSeconds: integer('payment_window_seconds'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    check('flash_sales_quantity_positive', sql`${t.quantity} > 0`),
    check('flash_sales_sold_within_quantity', sql`${t.sold} >= 0 and ${t.sold} <= ${t.quantity}`),
    check('flash_sales_price_non_negative', sql`${t.priceAmount} >= 0`),
    check('flash_sales_per_user_limit_positive', sql`${t.perUserLimit} > 0`),
    check('flash_sales_payment_window_positive', sql`${t.paymentWindowSeconds} is null or ${t.paymentWindowSeconds} > 0`),
    check('flash_sales_window_ordered', sql`${t.endsAt} > ${t.startsAt}`),
  ],
);

/**
 * One accepted ticket as the database saw it (id = the ticket id = the order id). TAKEN holds
 * units of the sale; REFUSED never did (the database had none left, or the buyer was at the
 * limit); PAID keeps them; RETURNED gave them back (order expired or unpaid). Moves only forward,
 * each a guarded update in the transaction that moves `sold`.
 */
export const flashSaleTickets = inventorySchema.table(
  'flash_sale_tickets',
  {
    ticketId: uuid('ticket_id').primaryKey(),
    saleId: uuid('sale_id')
      .notNull()
      .references(() => flashSales.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').notNull(),
    quantity: integer('quantity').notNull(),
    status: text('status', { enum: ['TAKEN', 'REFUSED', 'PAID', 'RETURNED'] }).notNull(),
    reason: text('reason'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    check('flash_sale_tickets_quantity_positive', sql`${t.quantity} > 0`),
    check('flash_sale_tickets_status_known', sql`${t.status} in ('TAKEN', 'REFUSED', 'PAID', 'RETURNED')`),
    index('flash_sale_tickets_sale_user').on(t.saleId, t.userId),
  ],
);
