import { sql } from 'drizzle-orm';
import { outboxTable } from '@agora/platform';
import { check, index, integer, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

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
