import {
  PENDING_TICKETS_MAX,
  type AdjustOutcome,
  type CounterState,
  type PendingTicket,
  type PurchaseOutcome,
  type PurchaseRequest,
  type SaleCounter,
  type SaleSnapshot,
  type SaleTerms,
} from './counter.js';

interface HeldSale {
  terms: SaleTerms;
  remaining: number;
  bought: Map<string, number>;
  /** `<user>:<Idempotency-Key>` → the ticket and the quantity asked. */
  keys: Map<string, { ticketId: string; quantity: number }>;
  pending: Map<string, PendingTicket>;
  givenBack: Set<string>;
  fence: bigint;
}

/**
 * The counter of one process (`npm start`): each method's body runs without an await between its
 * check and its change, so it is as atomic as the Redis script is. Excludes nothing across processes.
 */
export class InMemorySaleCounter implements SaleCounter {
  private readonly sales = new Map<string, HeldSale>();

  constructor(private readonly nowMs: () => number = Date.now) {}

  private held(saleId: string): HeldSale | undefined {
    const sale = this.sales.get(saleId);
    if (sale && sale.terms.forgetAtMs <= this.nowMs()) {
      this.sales.delete(saleId);
      return undefined;
    }
    return sale;
  }

  async load(terms: SaleTerms, snapshot: SaleSnapshot): Promise<boolean> {
    if (this.held(terms.id)) return false;
    this.sales.set(terms.id, {
      terms,
      remaining: snapshot.remaining,
      bought: new Map(snapshot.bought),
      keys: new Map(),
      pending: new Map(),
      givenBack: new Set(),
      fence: 0n,
    });
    return true;
  }

  async purchase(saleId: string, request: PurchaseRequest): Promise<PurchaseOutcome> {
    const sale = this.held(saleId);
    if (!sale) return { kind: 'unknown' };
    const keyOf = `${request.userId}:${request.idempotencyKey}`;
    const prior = sale.keys.get(keyOf);
    if (prior) return prior.quantity === request.quantity ? { kind: 'replayed', ticketId: prior.ticketId } : { kind: 'mismatch' };
    if (request.nowMs < sale.terms.startsAtMs || request.nowMs >= sale.terms.endsAtMs) return { kind: 'not-active' };
    const bought = sale.bought.get(request.userId) ?? 0;
    if (bought + request.quantity > sale.terms.perUserLimit) return { kind: 'limit' };
    if (sale.remaining < request.quantity) return { kind: 'sold-out' };
    sale.remaining -= request.quantity;
    sale.bought.set(request.userId, bought + request.quantity);
    sale.keys.set(keyOf, { ticketId: request.ticketId, quantity: request.quantity });
    sale.pending.set(request.ticketId, { ticketId: request.ticketId, userId: request.userId, quantity: request.quantity });
    return { kind: 'accepted', ticketId: request.ticketId };
  }

  async remaining(saleId: string): Promise<number | undefined> {
    return this.held(saleId)?.remaining;
  }

  async pendingTicket(saleId: string, ticketId: string): Promise<PendingTicket | undefined> {
    return this.held(saleId)?.pending.get(ticketId);
  }

  async settle(saleId: string, ticketId: string): Promise<void> {
    this.held(saleId)?.pending.delete(ticketId);
  }

  async giveBack(saleId: string, ticket: PendingTicket): Promise<boolean> {
    const sale = this.held(saleId);
    if (!sale || sale.givenBack.has(ticket.ticketId)) return false;
    sale.givenBack.add(ticket.ticketId);
    sale.remaining += ticket.quantity;
    sale.bought.set(ticket.userId, Math.max(0, (sale.bought.get(ticket.userId) ?? 0) - ticket.quantity));
    return true;
  }

  async state(saleId: string): Promise<CounterState> {
    const sale = this.held(saleId);
    if (!sale) return { loaded: false, remaining: 0, pending: [] };
    return { loaded: true, remaining: sale.remaining, pending: [...sale.pending.values()].slice(0, PENDING_TICKETS_MAX) };
  }

  async acceptedKeys(saleId: string, max: number): Promise<ReadonlySet<string> | undefined> {
    const sale = this.held(saleId);
    return sale && sale.keys.size <= max ? new Set(sale.keys.keys()) : undefined;
  }

  async adjust(saleId: string, delta: number, token: bigint): Promise<AdjustOutcome> {
    const sale = this.held(saleId);
    if (!sale) return 'absent';
    if (sale.fence > token) return 'stale';
    sale.fence = token;
    sale.remaining += delta;
    return 'applied';
  }

  /** Forgets every sale: what a Redis FLUSHDB does to the other adapter (tests). */
  forgetAll(): void {
    this.sales.clear();
  }

  async close(): Promise<void> {
    this.sales.clear();
  }
}
