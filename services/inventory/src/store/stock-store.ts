import { inArray, sql } from 'drizzle-orm';
import type { Executor, Storage } from '@agora/platform';
import { stockLevel, type StockLevel } from '../domain/stock.js';
import { recordStockChanges, type StockRow } from './stock-facts.js';
import { stock } from './schema.js';

export class StockStore {
  constructor(private readonly storage: Storage) {}

  async get(sku: string, executor: Executor = this.storage.db): Promise<StockLevel | undefined> {
    const rows = await executor.select().from(stock).where(sql`${stock.sku} = ${sku}`);
    const row = rows[0];
    return row ? stockLevel(row.sku, row.onHand, row.reserved) : undefined;
  }

  async getMany(skus: readonly string[]): Promise<StockLevel[]> {
    if (skus.length === 0) return [];
    const rows = await this.storage.db.select().from(stock).where(inArray(stock.sku, [...skus]));
    return rows.map((r) => stockLevel(r.sku, r.onHand, r.reserved));
  }

  /**
   * Sets on hand in one guarded statement: the row is created when missing, and the update only
   * applies while on hand stays >= reserved. No row back means the guard refused.
   */
  async setOnHand(sku: string, onHand: number, now: Date = new Date()): Promise<StockLevel | undefined> {
    return this.storage.transaction(async (tx) => {
      const rows = await this.storage.query<StockRow>(
        sql`
        insert into inventory.stock (sku, on_hand, reserved, updated_at) values (${sku}, ${onHand}, 0, now())
        on conflict (sku) do update set on_hand = excluded.on_hand, updated_at = now()
          where inventory.stock.reserved <= excluded.on_hand
        returning sku, on_hand, reserved`,
        tx,
      );
      await recordStockChanges(this.storage, tx, rows, 'set by an operator', now);
      const row = rows[0];
      return row ? stockLevel(row.sku, row.on_hand, row.reserved) : undefined;
    });
  }

  /**
   * Up to `limit` SKUs with at most `atMost` units available, scarcest first (then by SKU), in one
   * statement. It reads the whole stock table (one row per SKU): fine for a catalog's thousands of
   * SKUs; an index on `on_hand - reserved` is the step for far more.
   */
  async lowStock(atMost: number, limit: number): Promise<StockLevel[]> {
    const rows = await this.storage.query<StockRow>(
      sql`select sku, on_hand, reserved from inventory.stock where on_hand - reserved <= ${atMost}
          order by on_hand - reserved, sku limit ${limit}`,
    );
    return rows.map((r) => stockLevel(r.sku, Number(r.on_hand), Number(r.reserved)));
  }

  /** Seeds stock for SKUs that have none yet; existing rows are left alone. */
  async seedMissing(levels: readonly { sku: string; onHand: number }[]): Promise<number> {
    let created = 0;
    const batch = 500;
    for (let i = 0; i < levels.length; i += batch) {
      const chunk = levels.slice(i, i + batch);
      const inserted = await this.storage.db
        .insert(stock)
        .values(chunk.map((l) => ({ sku: l.sku, onHand: l.onHand, reserved: 0 })))
        .onConflictDoNothing()
        .returning({ sku: stock.sku });
      created += inserted.length;
    }
    return created;
  }
}
