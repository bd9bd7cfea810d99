import { and, asc, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import { AppError, newId, type Clock, type Money } from '@agora/kernel';
import type { EventEnvelope } from '@agora/contracts/events';
import type { Order, OrderLine, OrderStatus, ShippingAddress } from '@agora/contracts/order';
import { writeOutbox, type Executor, type Storage, type Tx } from '@agora/platform';
import { assertTransition, canTransition } from '../domain/status.js';
import { orderHistory, orderLines, orders } from './schema.js';

export const ORDERS_SCHEMA = 'orders';

export interface NewOrder {
  id: string;
  userId: string;
  idempotencyKey: string;
  lines: OrderLine[];
  total: Money;
  shippingAddress: ShippingAddress | undefined;
}

export interface OrderPageQuery {
  userId?: string;
  status?: OrderStatus;
  limit: number;
  /** Only orders with an id below this (ids are UUIDv7: newest first is id descending). */
  beforeId?: string;
}

/** Orders of one shard: rows, lines, history and the outbox, written in one transaction each time. */
export class OrderStore {
  constructor(
    readonly storage: Storage,
    private readonly clock: Clock,
  ) {}

  /** Inserts the PENDING order unless this user already has one for the key; returns the order id that holds the key. */
  async insertPending(tx: Tx, order: NewOrder): Promise<{ id: string; created: boolean }> {
    const now = this.clock.now();
    const inserted = await tx
      .insert(orders)
      .values({
        id: order.id,
        userId: order.userId,
        status: 'PENDING',
        currency: order.total.currency,
        totalAmount: order.total.amount,
        shippingAddress: order.shippingAddress ?? null,
        idempotencyKey: order.idempotencyKey,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing({ target: [orders.userId, orders.idempotencyKey] })
      .returning({ id: orders.id });
    if (inserted.length === 0) {
      const existing = await this.findIdByKey(order.userId, order.idempotencyKey, tx);
      if (!existing) throw new AppError('CONFLICT', 'order for this idempotency key vanished; retry');
      return { id: existing, created: false };
    }
    await tx.insert(orderLines).values(
      order.lines.map((line, position) => ({
        orderId: order.id,
        position,
        sku: line.sku,
        title: line.title,
        quantity: line.quantity,
        unitAmount: line.unitPrice.amount,
        lineAmount: line.lineTotal.amount,
      })),
    );
    await tx.insert(orderHistory).values({ id: newId(), orderId: order.id, status: 'PENDING', reason: null, at: now });
    return { id: order.id, created: true };
  }

  async findIdByKey(userId: string, idempotencyKey: string, executor: Executor = this.storage.db): Promise<string | undefined> {
    const rows = await executor
      .select({ id: orders.id })
      .from(orders)
      .where(and(eq(orders.userId, userId), eq(orders.idempotencyKey, idempotencyKey)));
    return rows[0]?.id;
  }

  /**
   * Moves an order from one of `from` to `to` in one guarded UPDATE, with its history entry and
   * outbox events in the same transaction. Already in `to` → no-op (steps are re-run on recovery);
   * anywhere else → 409.
   */
  async transition(orderId: string, from: readonly OrderStatus[], to: OrderStatus, reason?: string, events?: (order: Order) => EventEnvelope[]): Promise<{ changed: boolean }> {
    // Only the from-states the machine allows for `to` take part in the guard.
    const allowedFrom = from.filter((f) => canTransition(f, to));
    if (allowedFrom.length === 0) for (const f of from) assertTransition(f, to);
    return this.storage.transaction(async (tx) => {
      const now = this.clock.now();
      const updated = await tx
        .update(orders)
        .set({ status: to, updatedAt: now })
        .where(and(eq(orders.id, orderId), inArray(orders.status, allowedFrom)))
        .returning({ id: orders.id });
      if (updated.length === 0) {
        const current = await this.get(orderId, tx);
        if (!current) throw new AppError('NOT_FOUND', `order ${orderId} not found`);
        if (current.status === to) return { changed: false };
        throw new AppError('CONFLICT', `order is ${current.status}; it cannot become ${to}`, { extras: { order: current } });
      }
      await tx.insert(orderHistory).values({ id: newId(), orderId, status: to, reason: reason ?? null, at: now });
      // The order is read back (three queries) only for a caller that builds events from it.
      if (!events) return { changed: true };
      const order = await this.get(orderId, tx);
      if (!order) throw new Error(`order ${orderId} disappeared inside its own transaction`);
      const envelopes = events(order);
      if (envelopes.length > 0) await writeOutbox(this.storage, tx, ORDERS_SCHEMA, envelopes);
      return { changed: true };
    });
  }

  /** Claims the right to cancel: sets the cancel saga id once; returns the id that holds it. */
  async claimCancellation(orderId: string, sagaId: string): Promise<string | undefined> {
    const rows = await this.storage.query<{ cancel_saga_id: string | null }>(sql`
      update orders.orders set cancel_saga_id = coalesce(cancel_saga_id, ${sagaId}::uuid)
      where id = ${orderId}::uuid returning cancel_saga_id`);
    return rows[0]?.cancel_saga_id ?? undefined;
  }

  async get(orderId: string, executor: Executor = this.storage.db): Promise<Order | undefined> {
    const rows = await executor.select().from(orders).where(eq(orders.id, orderId));
    const row = rows[0];
    if (!row) return undefined;
    const [lines, history] = await Promise.all([
      executor.select().from(orderLines).where(eq(orderLines.orderId, orderId)).orderBy(asc(orderLines.position)),
      executor.select().from(orderHistory).where(eq(orderHistory.orderId, orderId)).orderBy(asc(orderHistory.at), asc(orderHistory.id)),
    ]);
    return toOrder(row, lines, history);
  }

  /** A page, newest first, of one user's orders or of every order in this shard. */
  async page(query: OrderPageQuery): Promise<Order[]> {
    const conditions = [];
    if (query.userId) conditions.push(eq(orders.userId, query.userId));
    if (query.status) conditions.push(eq(orders.status, query.status));
    if (query.beforeId) conditions.push(lt(orders.id, query.beforeId));
    const rows = await this.storage.db
      .select()
      .from(orders)
      .where(conditions.length > 0 ? and(...conditions) : undefined)
      .orderBy(desc(orders.id))
      .limit(query.limit);
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [lines, history] = await Promise.all([
      this.storage.db.select().from(orderLines).where(inArray(orderLines.orderId, ids)).orderBy(asc(orderLines.position)),
      this.storage.db.select().from(orderHistory).where(inArray(orderHistory.orderId, ids)).orderBy(asc(orderHistory.at), asc(orderHistory.id)),
    ]);
    return rows.map((row) =>
      toOrder(
        row,
        lines.filter((l) => l.orderId === row.id),
        history.filter((h) => h.orderId === row.id),
      ),
    );
  }
}

type OrderRow = typeof orders.$inferSelect;
type LineRow = typeof orderLines.$inferSelect;
type HistoryRow = typeof orderHistory.$inferSelect;

function toOrder(row: OrderRow, lines: LineRow[], history: HistoryRow[]): Order {
  const currency = row.currency;
  const order: Order = {
    id: row.id,
    userId: row.userId,
    status: row.status as OrderStatus,
    lines: lines.map((l) => ({
      sku: l.sku,
      title: l.title,
      quantity: l.quantity,
      unitPrice: { amount: l.unitAmount, currency },
      lineTotal: { amount: l.lineAmount, currency },
    })),
    total: { amount: row.totalAmount, currency },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    history: history.map((h) => ({ status: h.status as OrderStatus, at: h.at.toISOString(), ...(h.reason ? { reason: h.reason } : {}) })),
  };
  if (row.shippingAddress) order.shippingAddress = row.shippingAddress as ShippingAddress;
  return order;
}
