import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { AppError, newId, type Clock, type Money } from '@agora/kernel';
import type { EventEnvelope } from '@agora/contracts/events';
import type { Order, OrderLine, OrderStatus, ShippingAddress } from '@agora/contracts/order';
import { outboxInsert, writeOutbox, type Executor, type Storage, type Tx } from '@agora/platform';
import { assertTransition, canTransition } from '../domain/status.js';
import { orderHistory, orders } from './schema.js';

export const ORDERS_SCHEMA = 'orders';

/** The history's word for "stock was reserved", wherever the RESERVED entry is written. */
export const RESERVED_REASON = 'stock reserved';

/** A checkout's answer as kept for replays of its Idempotency-Key. */
export interface StoredAnswer {
  status: number;
  body: unknown;
}

/** What an Idempotency-Key holds: the order it opened, the request it was opened with, the answer given. */
export interface CheckoutKey {
  id: string;
  /** Null for orders opened before request hashes were kept with them. */
  requestHash: string | null;
  answer: StoredAnswer | undefined;
}

interface KeyRow {
  id: string;
  request_hash: string | null;
  response_status: number | null;
  response_body: unknown;
}

function keyOf(row: KeyRow): CheckoutKey {
  return {
    id: row.id,
    requestHash: row.request_hash,
    answer: row.response_status === null ? undefined : { status: Number(row.response_status), body: row.response_body },
  };
}

/** Timestamps come from the application's clock, never the database's `now()`, so tests can move time. */
const at = (date: Date) => sql`${date.toISOString()}::timestamptz`;

function assert(condition: boolean, invariant: string): asserts condition {
  if (!condition) throw new Error(`order store invariant violated: ${invariant}`);
}

export interface NewOrder {
  id: string;
  userId: string;
  idempotencyKey: string;
  requestHash: string;
  /** When it is opened: its created_at, updated_at and the PENDING entry's time. */
  openedAt: Date;
  lines: OrderLine[];
  total: Money;
  shippingAddress: ShippingAddress | undefined;
  /** A flash-sale order: when its payment is due. */
  payBy?: Date;
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
    /** Told of each status change this store commits itself (not those inside a caller's transaction): metrics. */
    private readonly onStatus: (status: OrderStatus) => void = () => undefined,
  ) {}

  /**
   * Opens the PENDING order (with its lines and first history entry) in ONE statement, unless
   * this user already has an order for the key: then that order's key record, nothing written.
   * `alongside(opened)` adds a write to the same statement, done only if the order was (the
   * checkout's saga is born that way: order, lines, history and saga in one commit).
   */
  async open(order: NewOrder, alongside?: (opened: SQL) => SQL): Promise<{ created: boolean; key: CheckoutKey }> {
    const now = at(order.openedAt);
    const lines = order.lines.map(
      (l, position) => sql`(${position}::int, ${l.sku}::text, ${l.title}::text, ${l.quantity}::int, ${l.unitPrice.amount}::bigint, ${l.lineTotal.amount}::bigint)`,
    );
    assert(lines.length > 0, 'an order has at least one line');
    const [opened] = await this.storage.query<{ id: string }>(
      // The key first: orders is partitioned by month and cannot hold a unique (user, key) index;
      // order_keys can, and the order is written only when the key was (schema.ts, orderKeys).
      sql`with k as (
            insert into orders.order_keys (user_id, idempotency_key, order_id) values (${order.userId}::uuid, ${order.idempotencyKey}, ${order.id}::uuid)
            on conflict (user_id, idempotency_key) do nothing
            returning order_id),
          o as (
            insert into orders.orders (id, user_id, status, currency, total_amount, shipping_address, idempotency_key, request_hash, pay_by, created_at, updated_at)
            select k.order_id, ${order.userId}::uuid, 'PENDING', ${order.total.currency}, ${order.total.amount}::bigint,
                   ${order.shippingAddress ? JSON.stringify(order.shippingAddress) : null}::jsonb, ${order.idempotencyKey}, ${order.requestHash},
                   ${order.payBy ? at(order.payBy) : null}::timestamptz, ${now}, ${now}
            from k
            returning id),
          l as (
            insert into orders.order_lines (order_id, position, sku, title, quantity, unit_amount, line_amount)
            select o.id, v.position, v.sku, v.title, v.quantity, v.unit_amount, v.line_amount
            from o, (values ${sql.join(lines, sql`, `)}) as v(position, sku, title, quantity, unit_amount, line_amount)),
          h as (
            insert into orders.order_history (id, order_id, status, reason, at) select ${newId()}::uuid, o.id, 'PENDING', null, ${now} from o)
          ${alongside ? sql`, a as (${alongside(sql`exists (select 1 from o)`)})` : sql``}
          select id from o`,
    );
    if (opened) {
      this.onStatus('PENDING');
      return { created: true, key: { id: opened.id, requestHash: order.requestHash, answer: undefined } };
    }
    const existing = await this.findByKey(order.userId, order.idempotencyKey);
    if (!existing) throw new AppError('CONFLICT', 'order for this idempotency key vanished; retry');
    return { created: false, key: existing };
  }

  /** The order as `open` writes it, built in memory (what `get` would read right after). */
  static opened(order: NewOrder): Order {
    const at = order.openedAt.toISOString();
    return {
      id: order.id,
      userId: order.userId,
      status: 'PENDING',
      lines: order.lines,
      total: order.total,
      createdAt: at,
      updatedAt: at,
      history: [{ status: 'PENDING', at }],
      ...(order.shippingAddress ? { shippingAddress: order.shippingAddress } : {}),
    };
  }

  /** The order a user opened with an Idempotency-Key, with the request's hash and the answer given, if any. */
  async findByKey(userId: string, idempotencyKey: string, executor?: Executor): Promise<CheckoutKey | undefined> {
    const [row] = await this.storage.query<KeyRow>(
      sql`select o.id, o.request_hash, o.response_status, o.response_body from orders.order_keys k join orders.orders o on o.id = k.order_id
          where k.user_id = ${userId}::uuid and k.idempotency_key = ${idempotencyKey}`,
      executor,
    );
    return row ? keyOf(row) : undefined;
  }

  /** The answer kept for the order's Idempotency-Key, if one was given. */
  async findAnswer(orderId: string): Promise<StoredAnswer | undefined> {
    const [row] = await this.storage.query<KeyRow>(sql`select id, request_hash, response_status, response_body from orders.orders where id = ${orderId}::uuid`);
    return row ? keyOf(row).answer : undefined;
  }

  /**
   * Keeps the checkout's answer with its order, unless one was kept already (a concurrent
   * request's): returns the answer that is kept, ours or theirs.
   */
  async recordAnswer(orderId: string, answer: StoredAnswer): Promise<StoredAnswer> {
    const [kept] = await this.storage.query<KeyRow>(
      sql`update orders.orders set response_status = ${answer.status}::int, response_body = ${JSON.stringify(answer.body ?? null)}::jsonb
          where id = ${orderId}::uuid and response_status is null
          returning id, request_hash, response_status, response_body`,
    );
    if (kept) return answer;
    const theirs = await this.findAnswer(orderId);
    if (!theirs) throw new Error(`order ${orderId}: no answer kept after a refused write of one`);
    return theirs;
  }

  /**
   * The checkout's confirmation as writes of the saga checkpoint that records it (a fused step):
   * PENDING or RESERVED → CONFIRMED with its history (RESERVED too, when the order never showed
   * it: stock was reserved on the way), the OrderConfirmed fact in the outbox and the 201 answer
   * kept for replays — all parts of that checkpoint's one statement, applied only where `fenced`
   * holds. The confirmed order is built in memory from the order as read (`order`); the
   * precondition makes the checkpoint wait for a retry if the order moved since.
   */
  confirmation(order: Order, events: (order: Order) => EventEnvelope[]): { confirmed: Order; precondition: SQL; parts: (fenced: SQL) => SQL } {
    if (order.status !== 'PENDING' && order.status !== 'RESERVED') {
      throw new AppError('CONFLICT', `order is ${order.status}; it cannot become CONFIRMED`, { extras: { order } });
    }
    const now = this.clock.now();
    const entries: { id: string; status: OrderStatus; reason: string }[] = [
      ...(order.status === 'PENDING' ? [{ id: newId(), status: 'RESERVED' as const, reason: RESERVED_REASON }] : []),
      { id: newId(), status: 'CONFIRMED', reason: 'paid' },
    ];
    const confirmed: Order = {
      ...order,
      status: 'CONFIRMED',
      updatedAt: now.toISOString(),
      history: [...order.history, ...entries.map((e) => ({ status: e.status, at: now.toISOString(), reason: e.reason }))],
    };
    const history = entries.map((e) => sql`(${e.id}::uuid, ${e.status}::text, ${e.reason}::text)`);
    const facts = events(confirmed);
    return {
      confirmed,
      precondition: sql`exists (select 1 from orders.orders where id = ${order.id}::uuid and status = ${order.status})`,
      parts: (fenced) => sql`
        confirm_order as (
          update orders.orders set status = 'CONFIRMED', updated_at = ${at(now)},
            -- An answer given before (202 while an asynchronous payment was pending) stays the key's answer.
            response_status = coalesce(response_status, 201),
            response_body = case when response_status is null then ${JSON.stringify(confirmed)}::jsonb else response_body end
          where id = ${order.id}::uuid and status = ${order.status} and ${fenced}
          returning id),
        confirm_history as (
          insert into orders.order_history (id, order_id, status, reason, at)
          select v.id, u.id, v.status, v.reason, ${at(now)} from confirm_order u, (values ${sql.join(history, sql`, `)}) as v(id, status, reason))
        ${facts.length > 0 ? sql`, confirm_facts as (${outboxInsert(ORDERS_SCHEMA, facts, sql`exists (select 1 from confirm_order)`)})` : sql``}`,
    };
  }

  /**
   * Moves an order from one of `from` to `to` in one guarded UPDATE, with its history entry and
   * outbox events in the same transaction. Already in `to` → no-op (steps are re-run on recovery);
   * anywhere else → 409.
   */
  async transition(
    orderId: string,
    from: readonly OrderStatus[],
    to: OrderStatus,
    reason?: string,
    events?: (order: Order) => EventEnvelope[],
    options: { reservedOnTheWay?: boolean; tx?: Tx } = {},
  ): Promise<{ changed: boolean }> {
    // Only the from-states the machine allows for `to` take part in the guard; with
    // `reservedOnTheWay`, PENDING passes through RESERVED (written to the history below).
    const viaReserved = (f: OrderStatus): boolean => options.reservedOnTheWay === true && f === 'PENDING' && canTransition('PENDING', 'RESERVED') && canTransition('RESERVED', to);
    const allowedFrom = from.filter((f) => canTransition(f, to) || viaReserved(f));
    if (allowedFrom.length === 0) for (const f of from) assertTransition(f, to);
    const inTransaction = <T>(work: (tx: Tx) => Promise<T>): Promise<T> => (options.tx ? work(options.tx) : this.storage.transaction(work));
    const result = await inTransaction(async (tx) => {
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
      // A checkout that failed after reserving stock passed RESERVED without writing it (its steps
      // are not logged one by one): the history says so before the failure.
      if (allowedFrom.some(viaReserved)) {
        await this.storage.query(
          sql`insert into orders.order_history (id, order_id, status, reason, at)
              select ${newId()}::uuid, id, 'RESERVED', ${RESERVED_REASON}, ${at(now)} from orders.orders
              where id = ${orderId}::uuid and not exists (select 1 from orders.order_history where order_id = ${orderId}::uuid and status = 'RESERVED')`,
          tx,
        );
      }
      await tx.insert(orderHistory).values({ id: newId(), orderId, status: to, reason: reason ?? null, at: now });
      // The order is read back (one statement) only for a caller that builds events from it.
      if (!events) return { changed: true };
      const order = await this.get(orderId, tx);
      if (!order) throw new Error(`order ${orderId} disappeared inside its own transaction`);
      const envelopes = events(order);
      if (envelopes.length > 0) await writeOutbox(this.storage, tx, ORDERS_SCHEMA, envelopes);
      return { changed: true };
    });
    if (result.changed && !options.tx) this.onStatus(to);
    return result;
  }

  /** Claims the right to cancel: sets the cancel saga id once; returns the id that holds it. */
  async claimCancellation(orderId: string, sagaId: string): Promise<string | undefined> {
    const rows = await this.storage.query<{ cancel_saga_id: string | null }>(sql`
      update orders.orders set cancel_saga_id = coalesce(cancel_saga_id, ${sagaId}::uuid)
      where id = ${orderId}::uuid returning cancel_saga_id`);
    return rows[0]?.cancel_saga_id ?? undefined;
  }

  /** One order with its lines and history, in one statement. */
  async get(orderId: string, executor?: Executor): Promise<Order | undefined> {
    const [row] = await this.storage.query<RawOrderRow>(sql`select ${ORDER_COLUMNS} from orders.orders o where o.id = ${orderId}::uuid`, executor);
    return row ? orderOf(row) : undefined;
  }

  /** A page, newest first, of one user's orders or of every order in this shard, in one statement. */
  async page(query: OrderPageQuery): Promise<Order[]> {
    const conditions: SQL[] = [];
    if (query.userId) conditions.push(sql`o.user_id = ${query.userId}::uuid`);
    if (query.status) conditions.push(sql`o.status = ${query.status}`);
    if (query.beforeId) conditions.push(sql`o.id < ${query.beforeId}::uuid`);
    const where = conditions.length > 0 ? sql`where ${sql.join(conditions, sql` and `)}` : sql``;
    const rows = await this.storage.query<RawOrderRow>(sql`select ${ORDER_COLUMNS} from orders.orders o ${where} order by o.id desc limit ${query.limit}`);
    return rows.map(orderOf);
  }
}

/** An order row with its lines and history aggregated (`o` is orders.orders): what `orderOf` reads. */
const ORDER_COLUMNS = sql`o.id, o.user_id, o.status, o.currency, o.total_amount, o.shipping_address, o.pay_by, o.created_at, o.updated_at,
  coalesce((select json_agg(json_build_object('sku', l.sku, 'title', l.title, 'quantity', l.quantity, 'unitAmount', l.unit_amount, 'lineAmount', l.line_amount) order by l.position)
            from orders.order_lines l where l.order_id = o.id), '[]'::json) as lines,
  coalesce((select json_agg(json_build_object('status', h.status, 'reason', h.reason, 'at', h.at) order by h.at, h.id)
            from orders.order_history h where h.order_id = o.id), '[]'::json) as history`;

interface RawOrderRow {
  id: string;
  user_id: string;
  status: string;
  currency: string;
  total_amount: number | string;
  shipping_address: unknown;
  pay_by: Date | string | null;
  created_at: Date | string;
  updated_at: Date | string;
  lines: { sku: string; title: string; quantity: number; unitAmount: number | string; lineAmount: number | string }[];
  history: { status: string; reason: string | null; at: string }[];
}

const iso = (value: Date | string): string => new Date(value).toISOString();

function orderOf(row: RawOrderRow): Order {
  const currency = row.currency;
  const order: Order = {
    id: row.id,
    userId: row.user_id,
    status: row.status as OrderStatus,
    lines: row.lines.map((l) => ({
      sku: l.sku,
      title: l.title,
      quantity: Number(l.quantity),
      unitPrice: { amount: Number(l.unitAmount), currency },
      lineTotal: { amount: Number(l.lineAmount), currency },
    })),
    total: { amount: Number(row.total_amount), currency },
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    history: row.history.map((h) => ({ status: h.status as OrderStatus, at: iso(h.at), ...(h.reason ? { reason: h.reason } : {}) })),
  };
  if (row.shipping_address) order.shippingAddress = row.shipping_address as ShippingAddress;
  if (row.pay_by !== null) order.payBy = iso(row.pay_by);
  return order;
}

/** One shopper's orders in one status and currency, opened since a time: what the day's figures add up. */
export interface OrderTally {
  userId: string;
  status: OrderStatus;
  currency: string;
  orders: number;
  /** The sum of their totals, in minor units. */
  amount: number;
}

/**
 * How far before `since` the id range starts: an order's id is made a moment before its opening
 * time is read, so the range must not start exactly at `since` (the created_at test is exact).
 */
const ID_RANGE_SLACK_MS = 60_000;

/** The smallest UUIDv7 of a millisecond: 48 bits of Unix milliseconds, then zeros. */
function firstIdAt(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

/**
 * The orders of one shard opened at or after `since`, tallied per shopper, status and currency in
 * one statement. Per shopper so the caller can drop a shard's copies of a shopper being moved to
 * another shard (their owner holds the orders that count). Ids are UUIDv7, so the id range (the
 * primary key, and the month partitions) bounds what is read; created_at is the exact test.
 */
export async function tallyOrdersSince(storage: Storage, since: Date): Promise<OrderTally[]> {
  const rows = await storage.query<{ user_id: string; status: string; currency: string; orders: number | string; amount: number | string }>(
    sql`select o.user_id::text as user_id, o.status, o.currency, count(*) as orders, sum(o.total_amount) as amount
        from orders.orders o
        where o.id >= ${firstIdAt(since.getTime() - ID_RANGE_SLACK_MS)}::uuid and o.created_at >= ${at(since)}
        group by o.user_id, o.status, o.currency`,
  );
  return rows.map((r) => ({ userId: r.user_id, status: r.status as OrderStatus, currency: r.currency, orders: Number(r.orders), amount: Number(r.amount) }));
}
