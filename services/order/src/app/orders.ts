import { AppError, isAppError, newId, notFound, validationError, type Clock } from '@agora/kernel';
import type { CheckoutBody, Order, OrderStatus } from '@agora/contracts/order';
import {
  SagaOrchestrator,
  type Caller,
  type Logger,
  type SagaDefinition,
  type SagaOrchestratorOptions,
  type ShardRouter,
  type Storage,
} from '@agora/platform';
import { isCancellable } from '../domain/status.js';
import { ORDERS_SCHEMA, OrderStore } from '../store/order-store.js';
import { cancelSaga, type CancelInput } from './cancel/saga.js';
import { Checkout, type CheckoutResponse } from './checkout/checkout.js';
import type { CheckoutInput, PaymentSignal } from './checkout/input.js';
import { FreshAnswers } from './checkout/fresh-answers.js';
import { checkoutSaga } from './checkout/saga.js';
import type { Collaborators } from './clients.js';

export type { CheckoutResponse } from './checkout/checkout.js';

/** One shard's machinery: orders (which hold their Idempotency-Keys and answers) and their sagas live together. */
export interface OrderShard {
  id: string;
  storage: Storage;
  store: OrderStore;
  orchestrator: SagaOrchestrator;
  checkout: SagaDefinition<CheckoutInput>;
  cancel: SagaDefinition<CancelInput>;
}

/** Tuning passed through to each shard's saga orchestrator (defaults: its own). */
export interface OrdersOptions {
  /** Saga lease (ms): how soon another instance recovers the sagas of a crashed one. */
  leaseMs?: number;
  /** Observer of the saga log's entries (fault injection in tests: see faults.ts). */
  onLog?: SagaOrchestratorOptions['onLog'];
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
  private readonly checkouts: Checkout;

  constructor(
    private readonly router: ShardRouter,
    private readonly services: Collaborators,
    private readonly clock: Clock,
    private readonly logger: Logger,
    owner: string,
    options: OrdersOptions = {},
  ) {
    const { leaseMs, onLog } = options;
    const answers = new FreshAnswers();
    this.checkouts = new Checkout(services, logger, answers, clock);
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
      const checkout = checkoutSaga({ store, services, clock, answers }, logger);
      const cancel = cancelSaga(store, services, clock);
      orchestrator.register(checkout);
      orchestrator.register(cancel);
      this.shards.set(shard.id, {
        id: shard.id,
        storage: shard.storage,
        store,
        orchestrator,
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

  checkout(caller: Caller, idempotencyKey: string | undefined, body: CheckoutBody, requestId?: string): Promise<CheckoutResponse> {
    return this.checkouts.run(this.shardOf(caller.userId), caller, idempotencyKey, body, requestId);
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
}

function pageOf(items: Order[], limit: number): { items: Order[]; nextCursor: string | null } {
  const page = items.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page, nextCursor: items.length > limit && last ? encodeCursor(last.id) : null };
}
