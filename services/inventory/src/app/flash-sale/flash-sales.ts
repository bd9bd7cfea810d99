import { AppError, newId, notFound, validationError, type Clock } from '@agora/kernel';
import { flashSale } from '@agora/contracts';
import { newEnvelope, type Caller, type EventBus, type Logger } from '@agora/platform';
import type { FlashSaleStore, SaleRow } from '../../store/flash-sale-store.js';
import type { SaleCounter, SaleTerms } from './counter.js';

/** How long a sale's keys outlive its end: time for unpaid orders to expire and give units back. */
export const FLASH_SALE_COUNTER_RETENTION_MS = 24 * 60 * 60 * 1000;
/**
 * How long a "sold out" answer is given in process, without asking the counter: a stampede on a
 * sold-out sale costs no Redis round trip, and a unit given back (an unpaid order expired) is on
 * sale again within this bound.
 */
export const SOLD_OUT_FLAG_MS = 250;
/**
 * Most accepted purchases a process keeps the keys of while its sold-out flag is up (read once per
 * flag): a replayed key is sent on to the counter for its ticket instead of SOLD_OUT. A sale that
 * accepted more gets no flag — each attempt asks the counter, slower but right.
 */
export const SOLD_OUT_KEYS_MAX = 10_000;
/** How long a sale's public view (remaining, status) is served from memory: no Redis round trip per viewer. */
export const SALE_VIEW_CACHE_MS = 200;
/** Most sales remembered in the view cache and the sold-out flags (least recently set first out). */
const SALES_REMEMBERED_MAX = 1_000;
/** The longest a sale may last, and how far ahead it may end: keeps every date in a sane range. */
export const SALE_WINDOW_MAX_MS = 366 * 24 * 60 * 60 * 1000;

export interface FlashSalesOptions {
  store: FlashSaleStore;
  counter: SaleCounter;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  /** Counted per answer (accepted, replayed, sold-out, sold-out-flag, limit, not-active, mismatch). */
  onPurchase?: (outcome: string) => void;
}

export function saleTerms(sale: SaleRow): SaleTerms {
  return {
    id: sale.id,
    quantity: sale.quantity,
    startsAtMs: sale.startsAt.getTime(),
    endsAtMs: sale.endsAt.getTime(),
    perUserLimit: sale.perUserLimit,
    forgetAtMs: sale.endsAt.getTime() + FLASH_SALE_COUNTER_RETENTION_MS,
  };
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > SALES_REMEMBERED_MAX) map.delete(map.keys().next().value as string);
}

/**
 * The flash-sale use cases of the inventory service (docs/flash-sales.md): an operator creates a
 * sale (its units set aside from stock); a shopper's purchase is one step of the counter,
 * answered at once with a ticket that the bus carries to PostgreSQL and on to an order.
 */
export class FlashSales {
  /** Per sale: until when this process answers SOLD_OUT itself, and the purchase keys it must not (they were accepted). */
  private readonly soldOut = new Map<string, { until: number; accepted: ReadonlySet<string> }>();
  /** Sales whose flag is being raised (their accepted keys being read): one read per sale at a time. */
  private readonly raising = new Map<string, symbol>();
  private readonly views = new Map<string, { at: number; view: flashSale.FlashSale }>();
  private readonly sales = new Map<string, SaleRow>();

  constructor(private readonly options: FlashSalesOptions) {}

  async create(body: flashSale.CreateFlashSaleBody): Promise<flashSale.FlashSale> {
    const startsAt = new Date(body.startsAt);
    const endsAt = new Date(body.endsAt);
    if (endsAt.getTime() <= startsAt.getTime()) throw validationError([{ path: 'endsAt', message: 'must be after startsAt' }]);
    if (endsAt.getTime() <= this.options.clock.now().getTime()) throw validationError([{ path: 'endsAt', message: 'must be in the future' }]);
    if (endsAt.getTime() > this.options.clock.now().getTime() + SALE_WINDOW_MAX_MS) throw validationError([{ path: 'endsAt', message: 'must be within a year from now' }]);
    if (endsAt.getTime() - startsAt.getTime() > SALE_WINDOW_MAX_MS) throw validationError([{ path: 'startsAt', message: 'a sale lasts at most a year' }]);
    if (body.perUserLimit > body.quantity) throw validationError([{ path: 'perUserLimit', message: 'must not exceed quantity' }]);
    const sale = await this.options.store.create(
      {
        id: newId(),
        sku: body.sku,
        quantity: body.quantity,
        priceAmount: body.price.amount,
        currency: body.price.currency,
        startsAt,
        endsAt,
        perUserLimit: body.perUserLimit,
        paymentWindowSeconds: body.paymentWindowSeconds,
      },
      this.options.clock.now(),
    );
    // A counter that cannot be loaded now is loaded by the first purchase (or the reconciler).
    await this.loadCounter(sale).catch((err: unknown) => this.options.logger.warn({ err, saleId: sale.id }, 'flash sale created; its counter will be loaded on first use'));
    return this.viewOf(sale, sale.quantity);
  }

  /** The sale's row: immutable but for `sold`, so kept in memory once read. */
  async sale(saleId: string): Promise<SaleRow> {
    const known = this.sales.get(saleId);
    if (known) return known;
    const sale = await this.options.store.get(saleId);
    if (!sale) throw notFound('Flash sale');
    remember(this.sales, saleId, sale);
    return sale;
  }

  /** Loads the counter from the database unless it holds the sale already. */
  async loadCounter(sale: SaleRow): Promise<boolean> {
    const fresh = (await this.options.store.get(sale.id)) ?? sale;
    const bought = await this.options.store.bought(sale.id);
    return this.options.counter.load(saleTerms(fresh), { remaining: fresh.quantity - fresh.sold, bought });
  }

  async view(saleId: string): Promise<flashSale.FlashSale> {
    const now = Date.now();
    const cached = this.views.get(saleId);
    if (cached && now - cached.at < SALE_VIEW_CACHE_MS) return cached.view;
    const sale = await this.sale(saleId);
    let remaining = await this.options.counter.remaining(saleId).catch(() => undefined);
    if (remaining === undefined) {
      const fresh = await this.options.store.get(saleId);
      remaining = fresh ? fresh.quantity - fresh.sold : 0;
    }
    const view = this.viewOf(sale, remaining);
    remember(this.views, saleId, { at: now, view });
    return view;
  }

  viewOf(sale: SaleRow, remaining: number): flashSale.FlashSale {
    const now = this.options.clock.now().getTime();
    const left = Math.max(0, Math.min(sale.quantity, remaining));
    const status: flashSale.FlashSaleStatus =
      now < sale.startsAt.getTime() ? 'SCHEDULED' : now >= sale.endsAt.getTime() ? 'ENDED' : left === 0 ? 'SOLD_OUT' : 'ACTIVE';
    return {
      id: sale.id,
      sku: sale.sku,
      price: { amount: sale.priceAmount, currency: sale.currency },
      quantity: sale.quantity,
      remaining: left,
      startsAt: sale.startsAt.toISOString(),
      endsAt: sale.endsAt.toISOString(),
      perUserLimit: sale.perUserLimit,
      ...(sale.paymentWindowSeconds === undefined ? {} : { paymentWindowSeconds: sale.paymentWindowSeconds }),
      status,
    };
  }

  /**
   * One purchase: one step of the counter, then the ticket onto the bus. A replay (same key, same
   * quantity) publishes its ticket again — the bus drops the duplicate by id, and a ticket whose
   * first publish was lost gets through. 409 SOLD_OUT, 429 LIMIT_EXCEEDED, 409 SALE_NOT_ACTIVE.
   */
  async purchase(caller: Caller, saleId: string, idempotencyKey: string, quantity: number): Promise<flashSale.Ticket> {
    const count = this.options.onPurchase ?? (() => undefined);
    const flag = this.soldOut.get(saleId);
    // A replay of an accepted purchase goes on to the counter, which answers its ticket.
    if (flag !== undefined && flag.until > Date.now() && !flag.accepted.has(`${caller.userId}:${idempotencyKey}`)) {
      count('sold-out-flag');
      throw new AppError('SOLD_OUT', 'This flash sale is sold out');
    }
    const request = { userId: caller.userId, idempotencyKey, quantity, ticketId: newId(), nowMs: this.options.clock.now().getTime() };
    let outcome = await this.counted(() => this.options.counter.purchase(saleId, request));
    if (outcome.kind === 'unknown') {
      // Never loaded here, or its state was lost (Redis flushed or restarted): reload from the
      // database — unless the sale is not open, which needs no counter to say.
      const sale = await this.sale(saleId);
      if (request.nowMs < sale.startsAt.getTime() || request.nowMs >= sale.endsAt.getTime()) outcome = { kind: 'not-active' };
      else {
        await this.counted(() => this.loadCounter(sale));
        outcome = await this.counted(() => this.options.counter.purchase(saleId, request));
      }
    }
    count(outcome.kind);
    switch (outcome.kind) {
      case 'accepted':
      case 'replayed': {
        const payload: flashSale.TicketAccepted = { ticketId: outcome.ticketId, saleId, userId: caller.userId, quantity };
        await this.options.bus.publish(newEnvelope(flashSale.FLASH_SALE_EVENT_TYPES.TicketAccepted, saleId, payload, new Date(), outcome.ticketId));
        return { ticketId: outcome.ticketId, status: 'ACCEPTED' };
      }
      case 'sold-out':
        this.raiseSoldOutFlag(saleId);
        throw new AppError('SOLD_OUT', 'This flash sale is sold out');
      case 'limit':
        throw new AppError('LIMIT_EXCEEDED', 'This purchase would take you over the per-user limit of this flash sale');
      case 'not-active':
        throw new AppError('SALE_NOT_ACTIVE', 'This flash sale is not open now');
      case 'mismatch':
        throw new AppError('IDEMPOTENCY_MISMATCH', 'This Idempotency-Key was used for a purchase of another quantity');
      case 'unknown':
        throw new AppError('UNAVAILABLE', 'The flash sale could not be loaded; try again shortly', { retryAfterSeconds: 1 });
    }
  }

  /** A counter that does not answer (Redis down, a command timed out) is a 503 with Retry-After, never a 500. */
  private async counted<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (err instanceof AppError) throw err;
      this.options.logger.warn({ err }, 'flash-sale counter did not answer');
      throw new AppError('UNAVAILABLE', 'The flash sale cannot take purchases right now; try again shortly', { retryAfterSeconds: 1, cause: err });
    }
  }

  /**
   * After the counter answered SOLD_OUT: this process answers it itself for SOLD_OUT_FLAG_MS, once
   * it has read the keys of the purchases the sale accepted (in the background: the answer that
   * raised it is not delayed). A read that fails, or finds too many, raises no flag.
   */
  private raiseSoldOutFlag(saleId: string): void {
    const flag = this.soldOut.get(saleId);
    if ((flag !== undefined && flag.until > Date.now()) || this.raising.has(saleId)) return;
    const raise = Symbol(saleId);
    this.raising.set(saleId, raise);
    this.options.counter
      .acceptedKeys(saleId, SOLD_OUT_KEYS_MAX)
      .then((accepted) => {
        // Units given back meanwhile (unitsReturned) called this raise off.
        if (accepted && this.raising.get(saleId) === raise) remember(this.soldOut, saleId, { until: Date.now() + SOLD_OUT_FLAG_MS, accepted });
      })
      .catch((err: unknown) => this.options.logger.warn({ err, saleId }, 'flash-sale sold-out flag not raised: the accepted keys could not be read'))
      .finally(() => {
        if (this.raising.get(saleId) === raise) this.raising.delete(saleId);
      });
  }

  /** Units came back (an unpaid order): this process's sold-out answer stops at once. */
  unitsReturned(saleId: string): void {
    this.soldOut.delete(saleId);
    this.raising.delete(saleId);
    this.views.delete(saleId);
  }

  /** A ticket of the caller's (admins see any): ORDERED once its units are taken, EXPIRED if refused or given back. */
  async ticket(caller: Caller, saleId: string, ticketId: string): Promise<flashSale.Ticket> {
    const mine = (userId: string): boolean => caller.role === 'admin' || userId === caller.userId;
    const decided = (row: Awaited<ReturnType<FlashSaleStore['ticket']>>): flashSale.Ticket | undefined => {
      if (!row || row.saleId !== saleId || !mine(row.userId)) return undefined;
      if (row.status === 'TAKEN' || row.status === 'PAID') return { ticketId, status: 'ORDERED', orderId: ticketId };
      return { ticketId, status: 'EXPIRED' };
    };
    const row = await this.options.store.ticket(ticketId);
    if (row) {
      const answer = decided(row);
      if (answer) return answer;
      throw notFound('Ticket');
    }
    const pending = await this.options.counter.pendingTicket(saleId, ticketId);
    if (pending) {
      if (mine(pending.userId)) return { ticketId, status: 'ACCEPTED' };
      throw notFound('Ticket');
    }
    // The database decides a ticket before the counter forgets it as pending: a ticket decided
    // between the two reads above is in the database now.
    const answer = decided(await this.options.store.ticket(ticketId));
    if (answer) return answer;
    throw notFound('Ticket');
  }
}
