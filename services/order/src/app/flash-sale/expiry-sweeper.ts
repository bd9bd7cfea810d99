import { sql } from 'drizzle-orm';
import { isAppError, type Clock } from '@agora/kernel';
import { flashSale } from '@agora/contracts';
import { PeriodicTask, type Logger } from '@agora/platform';
import type { OrderShard, Orders } from '../orders.js';
import { EXPIRY_GRACE_MAX_MS, expiryGraceMs, releasedEvents } from './flash-orders.js';

/** Orders one sweep of one shard expires at most (the next sweep takes the rest). */
export const EXPIRY_BATCH = 100;
export const EXPIRED_REASON = 'not paid within the flash sale payment window';

/**
 * Expires flash-sale orders left unpaid past their window (plus a grace for a payment under way):
 * RESERVED → EXPIRED with the OrderReleased fact in one transaction, so the units go back to the
 * sale exactly when the order expired. Every instance sweeps every shard; the guarded transition
 * lets one of them win each order, and a pay that got there first keeps it.
 */
export class FlashOrderExpiry {
  private readonly loop = new PeriodicTask(
    () => this.sweep(),
    (err) => this.logger.error({ err }, 'flash-sale expiry sweep failed; the next one retries'),
  );

  constructor(
    private readonly orders: Orders,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly paymentWindowMs: number,
    private readonly onExpired: (n: number) => void = () => undefined,
  ) {}

  start(intervalMs: number): void {
    this.loop.start(intervalMs);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One sweep of every shard; how many orders it expired. */
  async sweep(): Promise<number> {
    let expired = 0;
    for (const shard of this.orders.all()) expired += await this.sweepShard(shard);
    if (expired > 0) this.onExpired(expired);
    return expired;
  }

  private async sweepShard(shard: OrderShard): Promise<number> {
    const now = this.clock.now();
    // Past its deadline (its sale's own, else the default window) and the grace after it.
    const cutoff = new Date(now.getTime() - this.paymentWindowMs - expiryGraceMs(this.paymentWindowMs));
    const rows = await shard.storage.query<{ id: string; idempotency_key: string }>(
      sql`select id, idempotency_key from orders.orders
          where status = 'RESERVED' and idempotency_key like 'flash-sale:%'
            and (case when pay_by is null then created_at < ${cutoff.toISOString()}::timestamptz
                      else pay_by + least(pay_by - created_at, ${EXPIRY_GRACE_MAX_MS} * interval '1 millisecond') < ${now.toISOString()}::timestamptz end)
          order by id limit ${EXPIRY_BATCH}`,
    );
    let expired = 0;
    for (const row of rows) {
      const sale = flashSale.parseFlashSaleOrderKey(row.idempotency_key);
      if (!sale) continue;
      try {
        const { changed } = await shard.store.transition(row.id, ['RESERVED'], 'EXPIRED', EXPIRED_REASON, releasedEvents(sale.saleId, EXPIRED_REASON, now));
        if (changed) expired += 1;
      } catch (err) {
        // Paid (or failed) meanwhile: that outcome stands.
        if (!(isAppError(err) && err.code === 'CONFLICT')) throw err;
      }
    }
    return expired;
  }
}
