import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, LIMITS, isAppError, newId, toProblem, validationError, type Clock } from '@agora/kernel';
import type { CheckoutBody, Order } from '@agora/contracts/order';
import { hashRequest, type Caller, type Logger, type SagaDefinition, type SagaHandle, type SagaOrchestrator, type Storage } from '@agora/platform';
import { priceSnapshot } from '../../domain/pricing.js';
import { OrderStore, type CheckoutKey, type NewOrder, type StoredAnswer } from '../../store/order-store.js';
import type { Collaborators } from '../clients.js';
import type { FreshAnswers } from './fresh-answers.js';
import { CHECKOUT_LIMITS, type CheckoutInput } from './input.js';
import type { ConfirmResult } from './steps/confirm.js';

export interface CheckoutResponse {
  status: number;
  body: unknown;
  /** The answer was given before, to an earlier request with this Idempotency-Key. */
  replayed: boolean;
}

/** What a checkout needs of the shard that holds the shopper's orders. */
export interface CheckoutShard {
  storage: Storage;
  store: OrderStore;
  orchestrator: SagaOrchestrator;
  checkout: SagaDefinition<CheckoutInput>;
}

/**
 * `POST /checkout`: idempotent on the shopper's Idempotency-Key, which the order itself holds (one
 * order per user and key, with the request's hash and the answer given). A new key opens the
 * order and begins its saga in one transaction; the saga then runs in this request, which answers
 * with its outcome — or with 202 and the order to poll when the request runs past `answerWithinMs`
 * (counted from its start, the open included), while the saga goes on. A known key answers what it answered first.
 */
export class Checkout {
  constructor(
    private readonly services: Collaborators,
    private readonly logger: Logger,
    private readonly answers: FreshAnswers,
    private readonly clock: Clock,
  ) {}

  /**
   * `answerBy` (epoch ms) is when the answer is due: `answerWithinMs` after the request arrived,
   * its wait at the admission gate included (the order port sets it), else after this call began.
   * However long the wait, the cart read and the open took, the saga gets only what is left before
   * the 202 — never the caller a longer wait; past it, the answer comes as soon as the order is open.
   */
  async run(
    shard: CheckoutShard,
    caller: Caller,
    idempotencyKey: string | undefined,
    body: CheckoutBody,
    requestId?: string,
    answerBy: number = Date.now() + CHECKOUT_LIMITS.answerWithinMs,
  ): Promise<CheckoutResponse> {
    if (!idempotencyKey) throw validationError([{ path: 'idempotency-key', message: 'header is required on checkout' }]);
    if (idempotencyKey.length > LIMITS.idempotencyKeyChars) {
      throw validationError([{ path: 'idempotency-key', message: `must be at most ${LIMITS.idempotencyKeyChars} characters` }]);
    }
    const requestHash = hashRequest(body);
    const known = await shard.store.findByKey(caller.userId, idempotencyKey);
    if (known) return this.again(shard, known, requestHash);
    const opened = await this.open(shard, caller, idempotencyKey, requestHash, body, requestId);
    if (!opened.handle) return this.again(shard, opened.key, requestHash);
    const drive = opened.handle.drive();
    const outcome = await this.within(drive, Math.max(0, answerBy - Date.now()));
    if (!outcome) {
      drive.catch((err: unknown) => this.logger.error({ err, orderId: opened.key.id }, 'checkout: the saga failed after its 202; recovery takes it over'));
      this.logger.warn({ orderId: opened.key.id, answerWithinMs: CHECKOUT_LIMITS.answerWithinMs }, 'checkout: answered 202 while its saga runs on');
    }
    // Confirmed by this drive: the order as the confirm step built it, no read back.
    const token = outcome?.status === 'COMPLETED' ? confirmToken(outcome.results) : undefined;
    const confirmed = token === undefined ? undefined : this.answers.take(token);
    if (confirmed) return { status: 201, body: confirmed, replayed: false };
    return this.answer(shard, opened.key.id, false);
  }

  /** The same key again: the same body gets the first answer (waiting for it if it is still being worked out), another body 422. */
  private async again(shard: CheckoutShard, key: CheckoutKey, requestHash: string): Promise<CheckoutResponse> {
    if (key.requestHash !== null && key.requestHash !== requestHash) {
      throw new AppError('IDEMPOTENCY_MISMATCH', 'this Idempotency-Key was used with a different request body');
    }
    if (key.answer) return { ...key.answer, replayed: true };
    await this.joinDrive(shard, key.id);
    return this.answer(shard, key.id, true);
  }

  /**
   * Reads the cart and today's prices, then writes the PENDING order and its saga (leased to us)
   * in one statement. Another request with the same key may have won the insert: then there is
   * no handle, and its order's key record.
   */
  private async open(
    shard: CheckoutShard,
    caller: Caller,
    idempotencyKey: string,
    requestHash: string,
    body: CheckoutBody,
    requestId?: string,
  ): Promise<{ key: CheckoutKey; handle: SagaHandle | undefined }> {
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
    const order: NewOrder = {
      id: orderId,
      userId: caller.userId,
      idempotencyKey,
      requestHash,
      openedAt: this.clock.now(),
      lines: snapshot.lines,
      total: snapshot.total,
      shippingAddress: body.shippingAddress,
    };
    const input: CheckoutInput = {
      orderId,
      userId: caller.userId,
      lines: snapshot.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
      total: snapshot.total,
      payment: body.payment,
      opened: OrderStore.opened(order),
    };
    // The order, its lines, its history and its saga (born leased to us): one statement, one commit.
    const birth = shard.orchestrator.birth(shard.checkout, orderId, input);
    const opened = await shard.store.open(order, birth.insert);
    return { key: opened.key, handle: opened.created ? birth.handle : undefined };
  }

  /**
   * Waits, for a bounded time, for the drive of a saga this request did not begin (a concurrent
   * request with the same key, or a recovery loop after a crash): joins it in this process, or
   * looks again while another instance holds it. Past the bound the answer is 202.
   */
  private async joinDrive(shard: CheckoutShard, orderId: string): Promise<void> {
    const deadline = Date.now() + CHECKOUT_LIMITS.answerWithinMs;
    let pause: number = JOIN_POLL.firstMs;
    for (;;) {
      const outcome = await this.within(shard.orchestrator.drive(orderId), Math.max(0, deadline - Date.now()));
      if (!outcome || outcome.status === 'WAITING' || outcome.finished || Date.now() >= deadline) return;
      await sleep(pause);
      pause = Math.min(pause * 2, JOIN_POLL.maxMs);
    }
  }

  /**
   * The answer for the order as it stands, kept with the order unless an answer was kept already
   * (the confirm step keeps 201 in its own transaction): 201, 202 in progress, or the problem the
   * API names for its terminal status, with the order in it.
   */
  private async answer(shard: CheckoutShard, orderId: string, replayed: boolean): Promise<CheckoutResponse> {
    const given = await shard.store.findAnswer(orderId);
    if (given) return { ...given, replayed };
    const order = await shard.store.get(orderId);
    if (!order) throw new Error(`order ${orderId} vanished during its checkout`);
    let ours: StoredAnswer;
    let problem: AppError | undefined;
    try {
      ours = answerFor(order);
    } catch (err) {
      if (!(isAppError(err) && err.status < 500)) throw err;
      problem = err;
      ours = { status: err.status, body: toProblem(err) };
    }
    const kept = await shard.store.recordAnswer(orderId, ours);
    if (kept !== ours) return { ...kept, replayed: true };
    if (problem) throw problem;
    return { ...ours, replayed };
  }

  /** What `work` gave if it settled within `ms` (its failure is rethrown); undefined when the time ran out first. */
  private async within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The token of the confirm step's result, if the saga's results hold one. */
function confirmToken(results: Readonly<Record<string, unknown>>): string | undefined {
  const confirm = results.confirm;
  if (typeof confirm !== 'object' || confirm === null || !('answer' in confirm)) return undefined;
  const { answer } = confirm as ConfirmResult;
  return typeof answer === 'string' ? answer : undefined;
}

/** Polling another driver of the same saga: quick at first, then backing off. */
const JOIN_POLL = { firstMs: 5, maxMs: 200 } as const;

/** 201 final, 202 in progress, or the problem the API names, with the order in its body. */
function answerFor(order: Order): StoredAnswer {
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
