import type { flashSale } from '@agora/contracts';
import type { FlashSaleStore, SaleRow } from '../../store/flash-sale-store.js';
import type { SaleCounter } from './counter.js';
import type { FlashSales } from './flash-sales.js';
import type { FlashSaleReconciler } from './reconciler.js';

/** Sales listed on the operator's page, newest first. */
export const ADMIN_SALES_LISTED = 50;

/** The operator's view of sales: where each sale's units are, from the database, and the counter's drift. */
export class FlashSaleAdmin {
  constructor(
    private readonly store: FlashSaleStore,
    private readonly counter: SaleCounter,
    private readonly sales: FlashSales,
    private readonly reconciler: FlashSaleReconciler,
  ) {}

  async list(): Promise<flashSale.FlashSaleStatsList> {
    const rows = await this.store.list(ADMIN_SALES_LISTED);
    return { items: await Promise.all(rows.map((row) => this.statsOf(row))) };
  }

  async stats(saleId: string): Promise<flashSale.FlashSaleStats> {
    await this.sales.sale(saleId);
    const row = await this.store.get(saleId);
    if (!row) throw new Error(`flash sale ${saleId} vanished`);
    return this.statsOf(row);
  }

  private async statsOf(row: SaleRow): Promise<flashSale.FlashSaleStats> {
    const [tally, state] = await Promise.all([this.store.tally(row.id), this.counter.state(row.id).catch(() => undefined)]);
    const pending = state?.pending.reduce((sum, t) => sum + t.quantity, 0) ?? 0;
    const remaining = state?.loaded ? state.remaining : row.quantity - row.sold;
    return {
      ...this.sales.viewOf(row, remaining),
      accepted: tally.taken + tally.paid + tally.returned + tally.refused + pending,
      ordered: tally.taken + tally.paid + tally.returned,
      paid: tally.paid,
      expired: tally.returned + tally.refused,
      drift: this.reconciler.driftOf(row.id),
    };
  }
}
