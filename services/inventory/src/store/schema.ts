import { sql } from 'drizzle-orm';
import { check, integer, pgSchema, text, timestamp } from 'drizzle-orm/pg-core';

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
