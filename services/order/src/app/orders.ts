import { AppError, decodeIdCursor, encodeIdCursor, isAppError, newId, notFound, type Clock } from '@agora/kernel';
import { ORDER_STATUSES, type CheckoutBody, type Order, type OrderFigures, type OrderStatus } from '@agora/contracts/order';
import {
  SHARD_ROUTER_DEFAULTS,
  SagaOrchestrator,
  mergeShardPages,
  onKeyShard,
  type Caller,
  type FenceWait,
  type Logger,
  type Metrics,
  type SagaDefinition,
  type SagaLogEntry,
  type SagaOrchestratorOptions,
  type Shard,
  type ShardRouter,
  type Storage,
} from '@agora/platform';
import { isCancellable } from '../domain/status.js';
import { ORDERS_SCHEMA, OrderStore, tallyOrdersSince } from '../store/order-store.js';
import { cancelSaga, type CancelInput } from './cancel/saga.js';
import { Checkout, type CheckoutResponse } from './checkout/checkout.js';
import type { CheckoutInput, PaymentSignal } from './checkout/input.js';
import { FreshAnswers } from './checkout/fresh-answers.js';
import { checkoutSaga } from './checkout/saga.js';
import type { Collaborators } from './clients.js';
import { OrderStatusMetrics } from './order-metrics.js';

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
  /** Observer of the saga log's entries (the composition root's crash injection in tests: apps/agora/src/faults.ts). */
  onLog?: SagaOrchestratorOptions['onLog'];
  /** Saga step durations and orders by status (`agora_orders_total`); none without it. */
  metrics?: Metrics;
  /** Told of each try a shard fence refused while the shopper was being moved (metrics, logs). */
  onFenceWait?: (wait: FenceWait) => void;
}

/**
 * The order use cases. Orders are keyed by user and reached through the shard router, so no
 * query assumes that all orders sit in one database: admin listings fan out and merge. Each shard
 * has its own store and saga orchestrator (recovery runs per shard), built when the router first
 * names the shard — a shard added online gets its machinery at once.
 */
export class Orders {
  private readonly shards = new Map<string, OrderShard>();
  private readonly checkouts: Checkout;
  private readonly answers = new FreshAnswers();
  private readonly statusMetrics: OrderStatusMetrics | undefined;
  private recoveryIntervalMs: number | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly router: ShardRouter,
    private readonly services: Collaborators,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly owner: string,
    private readonly options: OrdersOptions = {},
  ) {
    this.checkouts = new Checkout(services, logger, this.answers, clock);
    this.statusMetrics = options.metrics ? new OrderStatusMetrics(options.metrics) : undefined;
    for (const shard of router.all()) this.machinery(shard);
  }

  all(): OrderShard[] {
    return this.router.all().map((shard) => this.machinery(shard));
  }

  private machinery(shard: Shard): OrderShard {
    const known = this.shards.get(shard.id);
    if (known?.storage === shard.storage) return known;
    const { leaseMs, metrics } = this.options;
    const statuses = this.statusMetrics;
    const onLog = statuses && this.options.onLog ? (entry: SagaLogEntry) => (statuses.observeSagaLog(entry), this.options.onLog?.(entry)) : (statuses?.observeSagaLog ?? this.options.onLog);
    const store = new OrderStore(shard.storage, this.clock, statuses ? (status) => statuses.entered(status) : undefined);
    const orchestrator = new SagaOrchestrator({
      storage: shard.storage,
      schema: ORDERS_SCHEMA,
      logger: this.logger,
      clock: this.clock,
      owner: `${this.owner}:${shard.id}`,
      ...(leaseMs === undefined ? {} : { leaseMs }),
      ...(onLog === undefined ? {} : { onLog }),
      ...(metrics === undefined ? {} : { metrics }),
    });
    const checkout = checkoutSaga({ store, services: this.services, clock: this.clock, answers: this.answers }, this.logger);
    const cancel = cancelSaga(store, this.services, this.clock);
    orchestrator.register(checkout);
    orchestrator.register(cancel);
    const made: OrderShard = { id: shard.id, storage: shard.storage, store, orchestrator, checkout, cancel };
    this.shards.set(shard.id, made);
    return made;
  }

  private shardOf(userId: string): OrderShard {
    return this.machinery(this.router.shardFor(userId));
  }

  /** `onUserShard` for the flash-sale orders (app/flash-sale/), which are opened and paid on their buyer's shard. */
  onShopperShard<T>(userId: string, work: (shard: OrderShard) => Promise<T>): Promise<T> {
    return this.onUserShard(userId, work);
  }

  /** Runs a write of `userId`'s orders on their shard, again while a move of theirs fences it (bounded). */
  private onUserShard<T>(userId: string, work: (shard: OrderShard) => Promise<T>): Promise<T> {
    return onKeyShard(this.router, userId, (shard) => work(this.machinery(shard)), this.options.onFenceWait);
  }

  /** `read` on the user's shard; when it finds nothing and the map was stale, once more on the new owner. */
  private async onOwner<T>(userId: string, read: (shard: OrderShard) => Promise<T | undefined>): Promise<T | undefined> {
    const found = await read(this.shardOf(userId));
    if (found !== undefined || !(await this.router.refresh?.(SHARD_ROUTER_DEFAULTS.emptyReadRecheckMs))) return found;
    return read(this.shardOf(userId));
  }

  /** Finds an order by id alone (admins, payment events): asks every shard; the owner's copy wins during a move. */
  private async locate(orderId: string): Promise<{ shard: OrderShard; order: Order } | undefined> {
    const found = await Promise.all(this.all().map(async (shard) => ({ shard, order: await shard.store.get(orderId) })));
    const hits = found.filter((f): f is { shard: OrderShard; order: Order } => f.order !== undefined);
    return hits.find((h) => this.router.shardFor(h.order.userId).id === h.shard.id) ?? hits[0];
  }

  /** `answerBy`: when the answer is due (epoch ms; Checkout.run). */
  checkout(caller: Caller, idempotencyKey: string | undefined, body: CheckoutBody, requestId?: string, answerBy?: number): Promise<CheckoutResponse> {
    return this.onUserShard(caller.userId, (shard) => this.checkouts.run(shard, caller, idempotencyKey, body, requestId, answerBy));
  }

  async get(caller: Caller, orderId: string): Promise<Order> {
    if (caller.role === 'admin') {
      const found = await this.locate(orderId);
      if (!found) throw notFound('Order');
      return found.order;
    }
    const order = await this.onOwner(caller.userId, (shard) => shard.store.get(orderId));
    // Another user's order is "not found": its existence is not revealed.
    if (!order || order.userId !== caller.userId) throw notFound('Order');
    return order;
  }

  async list(caller: Caller, limit: number, cursor?: string): Promise<{ items: Order[]; nextCursor: string | null }> {
    const beforeId = cursor ? decodeIdCursor(cursor) : undefined;
    const query = { userId: caller.userId, limit: limit + 1, ...(beforeId ? { beforeId } : {}) };
    const items = (await this.onOwner(caller.userId, async (shard) => nonEmpty(await shard.store.page(query)))) ?? [];
    return pageOf(items, limit);
  }

  /**
   * Every shard's newest orders merged by id (UUIDv7, so by time), one page at a time; only those
   * in `filter.status`, only `filter.userId`'s when given. A shopper's orders sit on their shard,
   * but one being moved has copies on two: the fan-out and the owner test below hold for them too.
   */
  async listAll(filter: { status?: OrderStatus | undefined; userId?: string | undefined }, limit: number, cursor?: string): Promise<{ items: Order[]; nextCursor: string | null }> {
    const beforeId = cursor ? decodeIdCursor(cursor) : undefined;
    const { status, userId } = filter;
    const pages = await Promise.all(
      this.all().map(async (shard) => {
        const rows = await shard.store.page({ limit: limit + 1, ...(status ? { status } : {}), ...(userId ? { userId } : {}), ...(beforeId ? { beforeId } : {}) });
        return { shard: shard.id, rows, full: rows.length > limit };
      }),
    );
    // A row held by a shard that does not own its shopper is a copy a move has not cleaned up yet.
    const merged = mergeShardPages(
      pages.map((p) => ({ rows: p.rows.map((order) => ({ order, shard: p.shard })), full: p.full })),
      limit,
      (row) => row.order.id,
      (row) => this.router.shardFor(row.order.userId).id === row.shard,
    );
    return { items: merged.items.map((row) => row.order), nextCursor: merged.nextCursor ? encodeIdCursor(merged.nextCursor) : null };
  }

  /**
   * The orders opened since `since` across every shard: how many are in each status now, and the
   * totals of the CONFIRMED ones per currency (the admin overview). A shard's copies of a shopper
   * it does not own (a move not cleaned up yet) are not counted: the owner's are.
   */
  async figures(since: Date): Promise<OrderFigures> {
    const tallies = await Promise.all(this.all().map(async (shard) => ({ shard: shard.id, rows: await tallyOrdersSince(shard.storage, since) })));
    const counts = new Map<OrderStatus, number>(ORDER_STATUSES.map((s) => [s, 0]));
    const confirmed = new Map<string, number>();
    for (const { shard, rows } of tallies) {
      for (const row of rows) {
        if (this.router.shardFor(row.userId).id !== shard) continue;
        counts.set(row.status, (counts.get(row.status) ?? 0) + row.orders);
        if (row.status === 'CONFIRMED') confirmed.set(row.currency, (confirmed.get(row.currency) ?? 0) + row.amount);
      }
    }
    return {
      since: since.toISOString(),
      byStatus: ORDER_STATUSES.map((status) => ({ status, count: counts.get(status) ?? 0 })),
      confirmedTotals: [...confirmed].sort(([a], [b]) => a.localeCompare(b)).map(([currency, amount]) => ({ amount, currency })),
    };
  }

  /**
   * Cancels an order. CONFIRMED: refund and restock through a durable cancel saga. RESERVED while
   * an asynchronous payment is pending: the checkout saga gets a cancel signal and compensates.
   */
  async cancel(caller: Caller, orderId: string): Promise<Order> {
    const order = await this.get(caller, orderId);
    if (order.status === 'CANCELLED') return order;
    if (!isCancellable(order.status)) throw new AppError('CONFLICT', `an order that is ${order.status} cannot be cancelled`, { extras: { order } });
    return this.onUserShard(order.userId, async (shard) => {
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
    });
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

  /** Recovery on every shard, and on each shard a map change adds, until `stopBackground`. */
  async startBackground(recoveryIntervalMs: number): Promise<void> {
    this.recoveryIntervalMs = recoveryIntervalMs;
    this.unsubscribe ??= this.router.onChange?.(() => {
      this.recoverAll().catch((err: unknown) => this.logger.error({ err }, 'starting saga recovery on a new shard failed; the next map change retries'));
    });
    await this.recoverAll();
  }

  private readonly recovering = new Set<OrderShard>();

  private async recoverAll(): Promise<void> {
    const interval = this.recoveryIntervalMs;
    if (interval === undefined) return;
    for (const shard of this.all()) {
      if (this.recovering.has(shard)) continue;
      this.recovering.add(shard);
      await shard.orchestrator.recover();
      shard.orchestrator.startRecoveryLoop(interval);
    }
  }

  async stopBackground(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.recoveryIntervalMs = undefined;
    await Promise.all([...this.shards.values()].map((s) => s.orchestrator.stop()));
    this.recovering.clear();
  }
}

/** Undefined for an empty list, so a stale router looks again on the new owner. */
function nonEmpty<T>(items: T[]): T[] | undefined {
  return items.length > 0 ? items : undefined;
}

function pageOf(items: Order[], limit: number): { items: Order[]; nextCursor: string | null } {
  const page = items.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page, nextCursor: items.length > limit && last ? encodeIdCursor(last.id) : null };
}
