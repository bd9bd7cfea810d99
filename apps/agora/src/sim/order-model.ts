import { AppError } from '@agora/kernel';
import type { EventEnvelope } from '@agora/contracts/events';
import type { Order, OrderStatus } from '@agora/contracts/order';
import { simFusedWrites, type SimProcess } from '@agora/platform';
import { assertOrderTransition, canOrderTransition, type CheckoutDeps } from '@agora/order';

const RESERVED_REASON = 'stock reserved';

/** An answer kept with an order for its Idempotency-Key (status and body, as the HTTP answer). */
export interface SimAnswer {
  status: number;
  body: unknown;
}

interface OrderRow {
  order: Order;
  requestHash: string;
  answer: SimAnswer | undefined;
  /** OrderConfirmed facts written to the outbox for it. */
  confirmedFacts: number;
}

/**
 * The order service's durable state (its database): orders with their history and the answer
 * kept for their key, unique on (user, Idempotency-Key). Each method is one statement or
 * transaction of store/order-store.ts, applied atomically.
 */
export class OrderTable {
  readonly orders = new Map<string, OrderRow>();
  private readonly byKey = new Map<string, string>();

  findByKey(userId: string, key: string): { id: string; requestHash: string; answer: SimAnswer | undefined } | undefined {
    const id = this.byKey.get(`${userId}\u0000${key}`);
    const row = id === undefined ? undefined : this.orders.get(id);
    return row && { id: row.order.id, requestHash: row.requestHash, answer: row.answer && structuredClone(row.answer) };
  }

  /** The order and its saga in one statement: both or neither, unique on the key. */
  open(order: Order, key: string, requestHash: string, alongside: () => void): boolean {
    const k = `${order.userId}\u0000${key}`;
    if (this.byKey.has(k)) return false;
    this.byKey.set(k, order.id);
    this.orders.set(order.id, { order: structuredClone(order), requestHash, answer: undefined, confirmedFacts: 0 });
    alongside();
    return true;
  }

  get(id: string): Order | undefined {
    const row = this.orders.get(id);
    return row && structuredClone(row.order);
  }

  answerOf(id: string): SimAnswer | undefined {
    const row = this.orders.get(id);
    return row?.answer && structuredClone(row.answer);
  }

  /** Keeps `answer` unless one is kept already; returns the one kept. */
  recordAnswer(id: string, answer: SimAnswer): SimAnswer {
    const row = this.orders.get(id);
    if (!row) throw new Error(`order ${id} vanished`);
    row.answer ??= structuredClone(answer);
    return structuredClone(row.answer);
  }

  row(id: string): OrderRow | undefined {
    return this.orders.get(id);
  }
}

/**
 * The order store the REAL checkout steps (services/order/src/app/checkout/steps) run on in the
 * simulation: `transition` as store/order-store.ts guards it (the from-states the machine allows,
 * RESERVED passed through on the way), `get`, and `confirmation` as a fused write the model saga
 * log applies in the statement of the checkpoint that completes the saga.
 */
export class OrderStoreModel {
  constructor(
    private readonly table: OrderTable,
    private readonly process: SimProcess,
  ) {}

  transition(
    orderId: string,
    from: readonly OrderStatus[],
    to: OrderStatus,
    reason?: string,
    _events?: (order: Order) => EventEnvelope[],
    options: { reservedOnTheWay?: boolean } = {},
  ): Promise<{ changed: boolean }> {
    const viaReserved = (f: OrderStatus): boolean => options.reservedOnTheWay === true && f === 'PENDING' && canOrderTransition('PENDING', 'RESERVED') && canOrderTransition('RESERVED', to);
    const allowedFrom = from.filter((f) => canOrderTransition(f, to) || viaReserved(f));
    if (allowedFrom.length === 0) for (const f of from) assertOrderTransition(f, to);
    return this.process.statement(`order ${to}`, () => {
      const row = this.table.row(orderId);
      if (!row) throw new AppError('NOT_FOUND', `order ${orderId} not found`);
      const current = row.order.status;
      if (!allowedFrom.includes(current)) {
        if (current === to) return { changed: false };
        throw new AppError('CONFLICT', `order is ${current}; it cannot become ${to}`);
      }
      const at = this.process.rt.clock.now().toISOString();
      if (viaReserved(current)) row.order.history.push({ status: 'RESERVED', at, reason: RESERVED_REASON });
      row.order.history.push({ status: to, at, ...(reason === undefined ? {} : { reason }) });
      row.order = { ...row.order, status: to, updatedAt: at };
      return { changed: true };
    });
  }

  get(orderId: string): Promise<Order | undefined> {
    return this.process.statement('order get', () => this.table.get(orderId));
  }

  confirmation(order: Order, events: (order: Order) => EventEnvelope[]) {
    if (order.status !== 'PENDING' && order.status !== 'RESERVED') {
      throw new AppError('CONFLICT', `order is ${order.status}; it cannot become CONFIRMED`, { extras: { order } });
    }
    const at = this.process.rt.clock.now().toISOString();
    const entries = [...(order.status === 'PENDING' ? [{ status: 'RESERVED' as const, at, reason: RESERVED_REASON }] : []), { status: 'CONFIRMED' as const, at, reason: 'paid' }];
    const confirmed: Order = { ...order, status: 'CONFIRMED', updatedAt: at, history: [...order.history, ...entries] };
    const facts = events(confirmed).length;
    const writes = simFusedWrites({
      precondition: () => this.table.row(order.id)?.order.status === order.status,
      apply: () => {
        const row = this.table.row(order.id);
        if (!row || row.order.status !== order.status) return;
        row.order = structuredClone(confirmed);
        row.answer ??= { status: 201, body: structuredClone(confirmed) };
        row.confirmedFacts += facts;
      },
    });
    return { confirmed, precondition: writes.precondition, parts: writes.parts };
  }

  /** As the real store's type, for the real steps' `CheckoutDeps`: the model answers the methods they call. */
  asStore(): CheckoutDeps['store'] {
    return this as unknown as CheckoutDeps['store'];
  }
}

/** The cart's durable record of checked-out orders: each order's lines leave the cart once. */
export class CartTable {
  readonly checkedOut = new Map<string, number>();

  apply(orderId: string): { applied: boolean } {
    const times = this.checkedOut.get(orderId) ?? 0;
    this.checkedOut.set(orderId, times + 1);
    return { applied: times === 0 };
  }
}
