/**
 * The sale counter: the hot state of every running flash sale (units left, units per buyer,
 * Idempotency-Keys seen, tickets on their way to the database), changed only by atomic steps —
 * one Redis Lua script each in the cluster (redis-counter.ts), one synchronous step of the event
 * loop in one process (memory-counter.ts). One contract suite runs against both.
 *
 * It is a fast filter, not the truth: PostgreSQL decides every unit (`sold + q <= quantity`), so a
 * counter that lost its state (Redis flushed or restarted) can let too many tickets through, never
 * too many orders. The reconciler puts it back in line with the database.
 */

/** What the counter needs to know of a sale to judge a purchase. */
export interface SaleTerms {
  id: string;
  quantity: number;
  startsAtMs: number;
  endsAtMs: number;
  perUserLimit: number;
  /** When the counter may forget the sale (its keys expire then). */
  forgetAtMs: number;
}

/** The database's view a counter is loaded from: units left and units per buyer. */
export interface SaleSnapshot {
  remaining: number;
  bought: ReadonlyMap<string, number>;
}

export interface PurchaseRequest {
  userId: string;
  idempotencyKey: string;
  quantity: number;
  /** The id the ticket gets if this purchase is accepted (a UUIDv7 made by the caller). */
  ticketId: string;
  nowMs: number;
}

export type PurchaseOutcome =
  | { kind: 'accepted'; ticketId: string }
  /** The same buyer and Idempotency-Key with the same quantity: the ticket issued the first time. */
  | { kind: 'replayed'; ticketId: string }
  /** The same buyer and Idempotency-Key with another quantity. */
  | { kind: 'mismatch' }
  | { kind: 'sold-out' }
  | { kind: 'limit' }
  | { kind: 'not-active' }
  /** The counter does not hold this sale (never loaded, or its state was lost): load it, ask again. */
  | { kind: 'unknown' };

/** A ticket the counter issued that the database has not decided yet. */
export interface PendingTicket {
  ticketId: string;
  userId: string;
  quantity: number;
}

export interface CounterState {
  loaded: boolean;
  remaining: number;
  pending: PendingTicket[];
}

export type AdjustOutcome = 'applied' | 'stale' | 'absent';

export interface SaleCounter {
  /** Loads a sale unless the counter holds it already; true when it loaded. */
  load(terms: SaleTerms, snapshot: SaleSnapshot): Promise<boolean>;
  /** Open? under the buyer's limit? units left? → take them, count the buyer, issue the ticket. */
  purchase(saleId: string, request: PurchaseRequest): Promise<PurchaseOutcome>;
  /** Units left; undefined when the counter does not hold the sale. */
  remaining(saleId: string): Promise<number | undefined>;
  /** The buyer and quantity of a pending ticket. */
  pendingTicket(saleId: string, ticketId: string): Promise<PendingTicket | undefined>;
  /** The database decided the ticket (taken or refused): it is no longer pending. */
  settle(saleId: string, ticketId: string): Promise<void>;
  /** Units of a released ticket come back, once per ticket whatever the retries; false if they did not (already back, or sale not held). */
  giveBack(saleId: string, ticket: PendingTicket): Promise<boolean>;
  state(saleId: string): Promise<CounterState>;
  /**
   * The `<user>:<Idempotency-Key>` of every purchase the counter accepted for the sale; undefined
   * when there are more than `max`, or the sale is not held. With it a sold-out answer given in
   * process still sends a replayed key to the counter, which answers its ticket.
   */
  acceptedKeys(saleId: string, max: number): Promise<ReadonlySet<string> | undefined>;
  /**
   * Moves units left by `delta` (a reconciler's correction) unless a correction with a higher
   * fencing token was applied first — the fence on the Redis side of the reconciler's lock.
   */
  adjust(saleId: string, delta: number, token: bigint): Promise<AdjustOutcome>;
  close(): Promise<void>;
}

/** Most tickets a counter reports as pending at once (the reconciler's round is bounded by it). */
export const PENDING_TICKETS_MAX = 10_000;
