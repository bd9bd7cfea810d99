import { AppError, notFound } from '@agora/kernel';
import { assertCanSetOnHand, type StockLevel } from '../domain/stock.js';
import type { StockStore } from '../store/stock-store.js';

export class InventoryApp {
  constructor(private readonly store: StockStore) {}

  async level(sku: string): Promise<StockLevel> {
    const level = await this.store.get(sku);
    if (!level) throw notFound(`SKU ${sku}`);
    return level;
  }

  /** SKUs without a stock row count as 0 available: the catalog may list a SKU before stock is set. */
  async availability(skus: readonly string[]): Promise<{ sku: string; available: number }[]> {
    const levels = new Map((await this.store.getMany(skus)).map((l) => [l.sku, l]));
    return skus.map((sku) => ({ sku, available: levels.get(sku)?.available ?? 0 }));
  }

  /** The stock alerts: SKUs with `atMost` units available or fewer, scarcest first, at most `limit` of them. */
  async lowStock(atMost: number, limit: number): Promise<{ threshold: number; items: StockLevel[]; more: boolean }> {
    const rows = await this.store.lowStock(atMost, limit + 1);
    return { threshold: atMost, items: rows.slice(0, limit), more: rows.length > limit };
  }

  async setOnHand(sku: string, onHand: number): Promise<StockLevel> {
    const level = await this.store.setOnHand(sku, onHand);
    if (level) return level;
    const current = await this.store.get(sku);
    if (!current) throw new AppError('CONFLICT', `stock of ${sku} changed while being set; retry`);
    assertCanSetOnHand(sku, onHand, current.reserved);
    throw new AppError('CONFLICT', `stock of ${sku} changed while being set; retry`);
  }
}
