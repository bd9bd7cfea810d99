import type { Clock } from '@agora/kernel';
import { flashSale } from '@agora/contracts';
import { PeriodicTask, newEnvelope, type EventBus, type LockManager, type Logger } from '@agora/platform';
import type { FlashSaleStore, SaleRow } from '../../store/flash-sale-store.js';
import type { SaleCounter } from './counter.js';
import { FLASH_SALE_COUNTER_RETENTION_MS, type FlashSales } from './flash-sales.js';

/** The one lock every instance's reconciler asks for; whoever gets it does the round. */
export const RECONCILE_LOCK = 'flash-sale:reconcile';
export const RECONCILER_DEFAULTS = {
  intervalMs: 5_000,
  /** Longer than a round takes (a few statements per sale), so a live holder never loses it mid-round. */
  leaseMs: 30_000,
  /** Most sales one round looks at (newest first). */
  salesPerRound: 100,
  /** A pending ticket older than this was probably never published (a crash after the script): publish it again. */
  republishAfterMs: 5_000,
} as const;

export interface SaleDrift {
  saleId: string;
  /** Counter's units left minus what the database implies (quantity − sold − pending tickets). */
  drift: number;
  /** True when the counter had lost the sale and was reloaded from the database. */
  reloaded: boolean;
  corrected: boolean;
}

export interface ReconcilerOptions {
  store: FlashSaleStore;
  counter: SaleCounter;
  sales: FlashSales;
  locks: LockManager;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  /** Called with each sale's drift after every round (a gauge). */
  onDrift?: (saleId: string, drift: number) => void;
}

/** Milliseconds since the epoch in a UUIDv7 (its first 48 bits). */
function idTime(id: string): number {
  return Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}

/**
 * Puts the counter back in line with PostgreSQL, one instance at a time (the fenced lease lock
 * `flash-sale:reconcile`, docs/locking.md): a sale the counter lost is reloaded; a drift seen in
 * two rounds in a row (one round alone may catch a take between its two reads) is corrected by a
 * delta, applied only under a fencing token no older than the last correction's; pending tickets
 * that never reached the database are published again, and those it decided are settled.
 */
export class FlashSaleReconciler {
  private readonly lastDrift = new Map<string, number>();
  private readonly reported = new Map<string, number>();
  private readonly loop = new PeriodicTask(
    () => this.round(),
    (err) => this.options.logger.error({ err }, 'flash-sale reconciliation round failed; the next one retries'),
  );

  constructor(private readonly options: ReconcilerOptions) {}

  /** The drift the last round saw for a sale (0 when none was seen). */
  driftOf(saleId: string): number {
    return this.reported.get(saleId) ?? 0;
  }

  start(intervalMs: number = RECONCILER_DEFAULTS.intervalMs): void {
    this.loop.start(intervalMs);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One round; undefined when another instance holds the lock. */
  async round(): Promise<SaleDrift[] | undefined> {
    const lock = await this.options.locks.tryAcquire(RECONCILE_LOCK, { leaseMs: RECONCILER_DEFAULTS.leaseMs });
    if (!lock) return undefined;
    try {
      const now = this.options.clock.now();
      const live = await this.options.store.live(now, FLASH_SALE_COUNTER_RETENTION_MS, RECONCILER_DEFAULTS.salesPerRound);
      const drifts: SaleDrift[] = [];
      for (const sale of live) {
        lock.signal.throwIfAborted();
        drifts.push(await this.reconcile(sale, lock.token));
      }
      return drifts;
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  private async reconcile(sale: SaleRow, token: bigint): Promise<SaleDrift> {
    const { counter, store, logger } = this.options;
    const state = await counter.state(sale.id);
    if (!state.loaded) {
      const reloaded = await this.options.sales.loadCounter(sale);
      if (reloaded) logger.warn({ saleId: sale.id }, 'flash-sale counter had lost the sale; reloaded from the database');
      return this.report({ saleId: sale.id, drift: 0, reloaded, corrected: false });
    }
    const fresh = (await store.get(sale.id)) ?? sale;
    const pending = state.pending.reduce((sum, t) => sum + t.quantity, 0);
    const drift = state.remaining - (fresh.quantity - fresh.sold - pending);
    await this.republish(sale.id, state.pending);
    const seenBefore = this.lastDrift.get(sale.id);
    this.lastDrift.set(sale.id, drift);
    if (drift === 0 || seenBefore !== drift) return this.report({ saleId: sale.id, drift, reloaded: false, corrected: false });
    const outcome = await counter.adjust(sale.id, -drift, token);
    logger.warn({ saleId: sale.id, drift, outcome, token: token.toString() }, 'flash-sale counter drifted from the database; corrected');
    if (outcome === 'applied') this.lastDrift.set(sale.id, 0);
    return this.report({ saleId: sale.id, drift, reloaded: false, corrected: outcome === 'applied' });
  }

  private report(drift: SaleDrift): SaleDrift {
    this.reported.set(drift.saleId, drift.drift);
    this.options.onDrift?.(drift.saleId, drift.drift);
    return drift;
  }

  private async republish(saleId: string, pending: readonly { ticketId: string; userId: string; quantity: number }[]): Promise<void> {
    const cutoff = this.options.clock.now().getTime() - RECONCILER_DEFAULTS.republishAfterMs;
    for (const ticket of pending) {
      if (idTime(ticket.ticketId) > cutoff) continue;
      // Decided by the database but never settled in the counter (it failed then): settle it now.
      if (await this.options.store.ticket(ticket.ticketId)) {
        await this.options.counter.settle(saleId, ticket.ticketId);
        continue;
      }
      const payload: flashSale.TicketAccepted = { ticketId: ticket.ticketId, saleId, userId: ticket.userId, quantity: ticket.quantity };
      await this.options.bus.publish(newEnvelope(flashSale.FLASH_SALE_EVENT_TYPES.TicketAccepted, saleId, payload, new Date(), ticket.ticketId));
    }
  }
}
