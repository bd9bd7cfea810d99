import { AppError, LIMITS, isAppError, newId, notFound, validationError, type Clock } from '@agora/kernel';
import { EVENT_TYPES, type OrderCancelled } from '@agora/contracts/events';
import type { CheckoutBody, Order, OrderStatus } from '@agora/contracts/order';
import {
  IdempotencyStore,
  SagaOrchestrator,
  defineSaga,
  hashRequest,
  type Caller,
  type Logger,
  type SagaDefinition,
  type SagaOrchestratorOptions,
  type ShardRouter,
  type Storage,
} from '@agora/platform';
import { priceSnapshot } from '../domain/pricing.js';
import { isCancellable } from '../domain/status.js';
import { ORDERS_SCHEMA, OrderStore } from '../store/order-store.js';
import { CHECKOUT_LIMITS, checkoutSaga, event, type CheckoutInput, type PaymentSignal } from './checkout-saga.js';
import type { Collaborators } from './clients.js';

export interface CheckoutResponse {
  status: number;
  body: unknown;
  replayed: boolean;
}

interface CancelInput {
  orderId: string;
  reason: string;
}

/** One shard's machinery: orders, their sagas and the idempotency records live together. */
export interface OrderShard {
  id: string;
  storage: Storage;
  store: OrderStore;
  orchestrator: SagaOrchestrator;
  idempotency: IdempotencyStore;
  checkout: SagaDefinition<CheckoutInput>;
  cancel: SagaDefinition<CancelInput>;
}

/** Tuning passed through to each shard's orchestrator and idempotency store (defaults: theirs). */
export interface OrdersOptions {
  /** Saga lease (ms): how soon another instance recovers the sagas of a crashed one. */
  leaseMs?: number;
  /** Observer of every committed saga log write (fault injection in tests: see faults.ts). */
  onLog?: SagaOrchestratorOptions['onLog'];
  /** How long an unanswered checkout's Idempotency-Key stays locked before a retry may take it over. */
  idempotencyLockTimeoutMs?: number;
}

function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
    throw validationError([{ path: 'cursor', message: 'is not a cursor this API issued' }]);
  }
  return id;
}

/**
 * The order use cases. Orders are keyed by user and reached through the shard router, so no
 * query assumes that all orders sit in one database: admin listings fan out and merge.
 */
export class Orders {
  private readonly shards = new Map<string, OrderShard>();

  constructor(
    private readonly router: ShardRouter,
    private readonly services: Collaborators,
    private readonly clock: Clock,
    private readonly logger: Logger,
    owner: string,
    options: OrdersOptions = {},
  ) {
    const { leaseMs, onLog, idempotencyLockTimeoutMs } = options;
    for (const shard of router.all()) {
      const store = new OrderStore(shard.storage, clock);
      const orchestrator = new SagaOrchestrator({
        storage: shard.storage,
        schema: ORDERS_SCHEMA,
        logger,
        clock,
        owner: `${owner}:${shard.id}`,
        ...(leaseMs === undefined ? {} : { leaseMs }),
        ...(onLog === undefined ? {} : { onLog }),
      });
      const checkout = checkoutSaga(store, services, clock);
      const cancel = cancelSaga(store, services, clock);
      orchestrator.register(checkout);
      orchestrator.register(cancel);
      this.shards.set(shard.id, {
        id: shard.id,
        storage: shard.storage,
        store,
        orchestrator,
        idempotency: new IdempotencyStore({
          storage: shard.storage,
          schema: ORDERS_SCHEMA,
          clock,
          logger,
          ...(idempotencyLockTimeoutMs === undefined ? {} : { lockTimeoutMs: idempotencyLockTimeoutMs }),
        }),
        checkout,
        cancel,
      });
    }
  }

  all(): OrderShard[] {
    return [...this.shards.values()];
  }

  private shardOf(userId: string): OrderShard {
    const shard = this.shards.get(this.router.shardFor(userId).id);
    if (!shard) throw new Error(`no order shard for ${userId}`);
    return shard;
  }

  /** Finds an order by id alone (admins, payment events): asks every shard. */
  private async locate(orderId: string): Promise<{ shard: OrderShard; order: Order } | undefined> {
    for (const shard of this.shards.values()) {
      const order = await shard.store.get(orderId);
      if (order) return { shard, order };
    }
    return undefined;
  }

  async checkout(caller: Caller, idempotencyKey: string | undefined, body: CheckoutBody, requestId?: string): Promise<CheckoutResponse> {
    if (!idempotencyKey) throw validationError([{ path: 'idempotency-key', message: 'header is required on checkout' }]);
    if (idempotencyKey.length > LIMITS.idempotencyKeyChars) {
      throw validationError([{ path: 'idempotency-key', message: `must be at most ${LIMITS.idempotencyKeyChars} characters` }]);
    }
    const shard = this.shardOf(caller.userId);
    const result = await shard.idempotency.run(`checkout:${caller.userId}`, idempotencyKey, hashRequest(body), async () => {
      const orderId = (await shard.store.findIdByKey(caller.userId, idempotencyKey)) ?? (await this.openOrder(shard, caller, idempotencyKey, body, requestId));
      await this.driveCheckout(shard, orderId);
      const order = await shard.store.get(orderId);
      if (!order) throw new Error(`order ${orderId} vanished after its checkout`);
      return checkoutAnswer(order);
    });
    return { status: result.status, body: result.body, replayed: result.replayed };
  }

  /**
   * Drives the checkout until it ends (with onFinished done) or waits for the payment provider. The
   * saga is committed unleased, so a recovery loop (this instance's or another's) may claim it
   * before our drive does, and `drive` then answers its state mid-way: a tok_visa checkout would
   * get 202 RESERVED. So while another driver holds it, join that drive (same process: `drive`
   * hands back the in-flight one) or look again, for a bounded time; past it the answer is 202.
   */
  private async driveCheckout(shard: OrderShard, orderId: string): Promise<void> {
    const deadline = Date.now() + CHECKOUT_LIMITS.otherDriverWaitMs;
    let pause = 5;
    for (;;) {
      const outcome = await shard.orchestrator.drive(orderId);
      if (outcome.status === 'WAITING' || outcome.finished || Date.now() >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 200);
    }
  }

  /** Reads the cart and today's prices, then writes the PENDING order and its saga in one transaction. */
  private async openOrder(shard: OrderShard, caller: Caller, idempotencyKey: string, body: CheckoutBody, requestId?: string): Promise<string> {
    const { lines } = await this.services.cartLines(caller.userId, requestId);
    if (lines.length === 0) throw new AppError('CART_EMPTY', 'The cart is empty; add items before checking out');
    const variants = new Map((await this.services.variants(lines.map((l) => l.sku))).map((v) => [v.sku, v]));
    const missing = lines.filter((l) => !variants.has(l.sku)).map((l) => l.sku);
    if (missing.length > 0) {
      throw new AppError('CONFLICT', `no longer sold: ${missing.join(', ')}; remove them from the cart`, { extras: { skus: missing } });
    }
    const snapshot = priceSnapshot(
      lines.map((l) => {
        const variant = variants.get(l.sku);
        if (!variant) throw new Error('unreachable: checked above');
        return { sku: l.sku, title: `${variant.productName} — ${variant.title}`, quantity: l.quantity, unitPrice: variant.price };
      }),
    );
    const orderId = newId();
    return shard.storage.transaction(async (tx) => {
      const opened = await shard.store.insertPending(tx, {
        id: orderId,
        userId: caller.userId,
        idempotencyKey,
        lines: snapshot.lines,
        total: snapshot.total,
        shippingAddress: body.shippingAddress,
      });
      if (opened.created) {
        const input: CheckoutInput = {
          orderId,
          userId: caller.userId,
          lines: snapshot.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
          total: snapshot.total,
          payment: body.payment,
        };
        await shard.orchestrator.start(shard.checkout, orderId, input, { tx });
      }
      return opened.id;
    });
  }

  async get(caller: Caller, orderId: string): Promise<Order> {
    if (caller.role === 'admin') {
      const found = await this.locate(orderId);
      if (!found) throw notFound('Order');
      return found.order;
    }
    const order = await this.shardOf(caller.userId).store.get(orderId);
    // Another user's order is "not found": its existence is not revealed.
    if (!order || order.userId !== caller.userId) throw notFound('Order');
    return order;
  }

  async list(caller: Caller, limit: number, cursor?: string): Promise<{ items: Order[]; nextCursor: string | null }> {
    const beforeId = cursor ? decodeCursor(cursor) : undefined;
    const items = await this.shardOf(caller.userId).store.page({ userId: caller.userId, limit: limit + 1, ...(beforeId ? { beforeId } : {}) });
    return pageOf(items, limit);
  }

  /** Every shard's newest orders merged by id (UUIDv7, so by time), one page at a time. */
  async listAll(status: OrderStatus | undefined, limit: number, cursor?: string): Promise<{ items: Order[]; nextCursor: string | null }> {
    const beforeId = cursor ? decodeCursor(cursor) : undefined;
    const pages = await Promise.all(
      this.all().map((shard) => shard.store.page({ limit: limit + 1, ...(status ? { status } : {}), ...(beforeId ? { beforeId } : {}) })),
    );
    const merged = pages.flat().sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    return pageOf(merged, limit);
  }

  /**
   * Cancels an order. CONFIRMED: refund and restock through a durable cancel saga. RESERVED while
   * an asynchronous payment is pending: the checkout saga gets a cancel signal and compensates.
   */
  async cancel(caller: Caller, orderId: string): Promise<Order> {
    const order = await this.get(caller, orderId);
    const shard = caller.role === 'admin' ? (await this.locate(orderId))?.shard : this.shardOf(caller.userId);
    if (!shard) throw notFound('Order');
    if (order.status === 'CANCELLED') return order;
    if (!isCancellable(order.status)) throw new AppError('CONFLICT', `an order that is ${order.status} cannot be cancelled`, { extras: { order } });
    if (order.status === 'CONFIRMED') {
      const claimed = await shard.store.claimCancellation(orderId, newId());
      if (!claimed) throw notFound('Order');
      await shard.orchestrator.start(shard.cancel, claimed, { orderId, reason: caller.role === 'admin' ? 'cancelled by an operator' : 'cancelled by the shopper' });
    } else {
      const outcome = await shard.orchestrator.outcome(orderId);
      if (outcome?.status !== 'WAITING') throw new AppError('CONFLICT', 'the checkout of this order is still running; try again in a moment', { extras: { order } });
      const signal: PaymentSignal = { kind: 'cancel', reason: 'cancelled by the shopper' };
      await shard.orchestrator.resume(orderId, 'authorizePayment', signal);
    }
    const after = await shard.store.get(orderId);
    if (!after) throw notFound('Order');
    if (after.status !== 'CANCELLED') throw new AppError('CONFLICT', `the order could not be cancelled (it is ${after.status})`, { extras: { order: after } });
    return after;
  }

  /**
   * Pays an order that waits for its payment. Checkout orders carry their payment from the start, so
   * today every order answers 409 here; flash-sale orders (created RESERVED, awaiting payment) use it.
   */
  async pay(caller: Caller, orderId: string): Promise<Order> {
    const order = await this.get(caller, orderId);
    throw new AppError('CONFLICT', `this order is ${order.status} and not awaiting a payment`, { extras: { order } });
  }

  /** An asynchronous payment settled (webhook → payment service → bus): the waiting checkout goes on. */
  async paymentSettled(orderId: string, signal: PaymentSignal): Promise<void> {
    const found = await this.locate(orderId);
    if (!found) {
      this.logger.warn({ orderId }, 'payment settled for an unknown order');
      return;
    }
    try {
      await found.shard.orchestrator.resume(orderId, 'authorizePayment', signal);
    } catch (err) {
      if (isAppError(err) && (err.code === 'CONFLICT' || err.code === 'NOT_FOUND')) {
        this.logger.info({ orderId, err: err.message }, 'payment settlement arrived for a checkout that is no longer waiting');
        return;
      }
      throw err;
    }
  }

  async startBackground(recoveryIntervalMs: number): Promise<void> {
    for (const shard of this.shards.values()) {
      await shard.orchestrator.recover();
      shard.orchestrator.startRecoveryLoop(recoveryIntervalMs);
    }
  }

  async stopBackground(): Promise<void> {
    await Promise.all(this.all().map((s) => s.orchestrator.stop()));
  }

  async pruneIdempotencyKeys(): Promise<number> {
    let pruned = 0;
    for (const shard of this.shards.values()) pruned += await shard.idempotency.pruneExpired();
    return pruned;
  }
}

function pageOf(items: Order[], limit: number): { items: Order[]; nextCursor: string | null } {
  const page = items.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page, nextCursor: items.length > limit && last ? encodeCursor(last.id) : null };
}

/** 201 final, 202 in progress, or the problem API.md names with the order in its body. */
function checkoutAnswer(order: Order): { status: number; body: unknown } {
  switch (order.status) {
    case 'CONFIRMED':
      return { status: 201, body: order };
    case 'PENDING':
    case 'RESERVED':
      return { status: 202, body: order };
    case 'REJECTED':
      throw new AppError('OUT_OF_STOCK', 'Not enough stock for every line of the cart; nothing was charged', { extras: { order } });
    case 'PAYMENT_FAILED': {
      // The history's reason already says what happened ("payment declined (card_declined)").
      const reason = order.history.at(-1)?.reason ?? 'payment declined';
      throw new AppError('PAYMENT_DECLINED', `${reason.charAt(0).toUpperCase()}${reason.slice(1)}`, { extras: { order } });
    }
    case 'EXPIRED':
    case 'CANCELLED':
      throw new AppError('CONFLICT', `The order is ${order.status}`, { extras: { order } });
  }
}

/** Cancelling a CONFIRMED order: refund, restock, then CANCELLED with an OrderCancelled event. */
function cancelSaga(store: OrderStore, services: Collaborators, clock: Clock): SagaDefinition<CancelInput> {
  return defineSaga<CancelInput>('cancelOrder', [
    {
      name: 'refund',
      run: async (ctx) => {
        let refunded = 0;
        let currency = 'USD';
        for (const intent of await services.paymentsOf(ctx.input.orderId)) {
          currency = intent.amount.currency;
          const refundable = intent.capturedAmount.amount - intent.refundedAmount.amount;
          if (refundable > 0) {
            await services.refund(intent.id, { amount: refundable, currency }, `${ctx.idempotencyKey}:${intent.id}`);
          }
          refunded += intent.capturedAmount.amount;
        }
        return { refunded: { amount: refunded, currency } };
      },
    },
    {
      name: 'restock',
      run: async (ctx) => {
        await services.restockReservation(ctx.input.orderId);
        return { restocked: true };
      },
    },
    {
      name: 'markCancelled',
      run: async (ctx) => {
        const refunded = (ctx.result<{ refunded: { amount: number; currency: string } }>('refund')).refunded;
        await store.transition(ctx.input.orderId, ['CONFIRMED'], 'CANCELLED', ctx.input.reason, (order) => {
          const payload: OrderCancelled = { orderId: order.id, userId: order.userId, refunded, reason: ctx.input.reason };
          return [event(EVENT_TYPES.OrderCancelled, order.id, payload, clock.now())];
        });
        return {};
      },
    },
  ]);
}
