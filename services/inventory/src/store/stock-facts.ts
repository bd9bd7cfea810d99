import { EVENT_TYPES, type EventEnvelope, type StockChanged } from '@agora/contracts/events';
import { newEnvelope, writeOutbox, type Storage, type Tx } from '@agora/platform';

export const INVENTORY_SCHEMA = 'inventory';

/** A stock row as an UPDATE ... RETURNING sku, on_hand, reserved gives it back. */
export interface StockRow {
  sku: string;
  on_hand: number;
  reserved: number;
}

/**
 * Writes one `inventory.stock-changed` fact per SKU a transaction moved (its last level), in that
 * same transaction: the fact exists exactly when the change committed.
 */
export async function recordStockChanges(storage: Storage, tx: Tx, rows: readonly StockRow[], reason: string, now: Date): Promise<void> {
  if (rows.length === 0) return;
  const last = new Map(rows.map((r) => [r.sku, r]));
  const events: EventEnvelope[] = [...last.values()].map((row) => {
    const payload: StockChanged = { sku: row.sku, onHand: row.on_hand, reserved: row.reserved, available: row.on_hand - row.reserved, reason };
    return newEnvelope(EVENT_TYPES.StockChanged, row.sku, payload, now);
  });
  await writeOutbox(storage, tx, INVENTORY_SCHEMA, events);
}
