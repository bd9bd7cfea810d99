import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, newId, notFound, type Clock, type Money } from '@agora/kernel';
import { events, payment } from '@agora/contracts';
import { newEnvelope, type Logger } from '@agora/platform';
import {
  DECLINE_CODES,
  assertAuthorizable,
  assertRefundable,
  decideCapture,
  decideVoid,
  statusAfterAuthorization,
  type PaymentStatus,
} from '../domain/intent.js';
import type { SettlementEvent } from '../domain/settlement.js';
import type { AttemptOutcome, Fact, IntentRecord, NewAttempt, Operation, PaymentStore } from '../store/payment-store.js';
import { intentStateOf } from '../store/totals.js';
import { isProviderError, type PaymentProvider } from './provider.js';

/** Told after a fact is committed to the outbox; the outbox row stays the durable record. */
export interface PaymentNotifier {
  onSettled?(fact: events.PaymentSettled, envelope: events.EventEnvelope): void | Promise<void>;
  onCaptured?(fact: events.PaymentCaptured, envelope: events.EventEnvelope): void | Promise<void>;
}

export interface ProviderRetryPolicy {
  /** Calls per operation before giving up (1 = no retry). */
  attempts: number;
  /** Wait before the 2nd call; doubles for each next one. */
  backoffMs: number;
}

export interface LeasePolicy {
  /** How long a capture/void may run before another caller may re-drive it (> the provider's worst case). */
  leaseMs: number;
  /** How long a concurrent caller waits for a running capture/void before answering 503. */
  waitMs: number;
  pollMs: number;
}

export interface PaymentsDeps {
  store: PaymentStore;
  provider: PaymentProvider;
  clock: Clock;
  logger: Logger;
  retry: ProviderRetryPolicy;
  lease: LeasePolicy;
  notifier?: PaymentNotifier | undefined;
  sleep?: (ms: number) => Promise<void>;
}

export type WebhookOutcome = payment.WebhookAck['outcome'];


export function toPaymentIntent(row: IntentRecord): payment.PaymentIntent {
  const currency = row.currency;
  return {
    id: row.id,
    orderId: row.orderId,
    userId: row.userId,
    amount: { amount: row.amount, currency },
    status: row.status,
    ...(row.declineCode === null ? {} : { declineCode: row.declineCode }),
    provider: row.provider,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    capturedAmount: { amount: row.capturedAmount, currency },
    refundedAmount: { amount: row.refundedAmount, currency },
  };
}

const stateOf = intentStateOf;

/** Fingerprint of an authorize request: the same idempotency key with another body is refused. */
export function authorizeFingerprint(body: payment.AuthorizeBody): string {
  return createHash('sha256')
    .update(JSON.stringify([body.orderId, body.userId, body.amount.amount, body.amount.currency, body.token]))
    .digest('hex');
}

/** The idempotency keys sent to the provider: one per operation instance, the same for every retry. */
export const providerKeys = {
  authorize: (intentId: string) => `authorize:${intentId}`,
  capture: (intentId: string) => `capture:${intentId}`,
  void: (intentId: string) => `void:${intentId}`,
  refund: (refundId: string) => `refund:${refundId}`,
};

const mismatch = (what: string): AppError => new AppError('IDEMPOTENCY_MISMATCH', `idempotency key was used for another ${what}`);

/**
 * The payment use cases. Every operation is idempotent and crash-safe: state changes are guarded
 * single statements; every provider call is recorded before it is made and carries a provider
 * idempotency key derived from our ids, so re-driving after a crash or a timeout is never a second
 * charge, capture or refund.
 */
export class Payments {
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly deps: PaymentsDeps) {
    this.sleep = deps.sleep ?? ((ms: number) => sleep(ms));
  }

  get providerName(): string {
    return this.deps.provider.name;
  }

  async get(id: string): Promise<payment.PaymentIntent> {
    return toPaymentIntent(await this.mustFind(id));
  }

  async listByOrder(orderId: string): Promise<payment.PaymentIntent[]> {
    return (await this.deps.store.listByOrder(orderId)).map(toPaymentIntent);
  }

  /**
   * Authorizes once per idempotency key. A repeat answers the stored intent without calling the
   * provider, except when the first call never heard back from it (PENDING without a provider
   * reference): that one is re-driven with the same provider key.
   *
   * Two statements: the intent with the attempt before the call, the outcome with the attempt's after.
   */
  async authorize(body: payment.AuthorizeBody): Promise<payment.PaymentIntent> {
    assertAuthorizable(body.amount);
    const now = this.deps.clock.now();
    const id = newId();
    const requestHash = authorizeFingerprint(body);
    const attempt = this.newAttempt(id, 'authorize', providerKeys.authorize(id), body.idempotencyKey, now);
    const { intent, created } = await this.deps.store.createIntent(
      {
        id,
        orderId: body.orderId,
        userId: body.userId,
        idempotencyKey: body.idempotencyKey,
        requestHash,
        currency: body.amount.currency,
        amount: body.amount.amount,
        status: 'PENDING',
        provider: this.deps.provider.name,
        createdAt: now,
        updatedAt: now,
      },
      attempt,
    );
    let attemptId = attempt.id;
    if (!created) {
      if (intent.requestHash !== requestHash) throw mismatch('authorization');
      if (intent.status !== 'PENDING' || intent.providerRef !== null) return toPaymentIntent(intent);
      this.deps.logger.info({ paymentId: intent.id }, 'authorization never heard back from the provider; re-driving it');
      const redrive = this.newAttempt(intent.id, 'authorize', providerKeys.authorize(intent.id), body.idempotencyKey, this.deps.clock.now());
      await this.deps.store.startAttempt(redrive);
      attemptId = redrive.id;
    }
    return toPaymentIntent(await this.driveAuthorization(intent, body, attemptId));
  }

  private async driveAuthorization(intent: IntentRecord, body: payment.AuthorizeBody, attemptId: string): Promise<IntentRecord> {
    const amount: Money = { amount: intent.amount, currency: intent.currency };
    const key = providerKeys.authorize(intent.id);
    const call = await this.callProvider(intent.id, 'authorize', key, body.idempotencyKey, attemptId, () =>
      this.deps.provider.authorize({ intentId: intent.id, amount, token: body.token, idempotencyKey: key }),
    );
    const now = this.deps.clock.now();
    if (!call.ok) {
      if (!isProviderError(call.error)) {
        await this.deps.store.finishAttempt(call.attempt, now);
        throw call.error;
      }
      this.deps.logger.warn({ err: call.error, paymentId: intent.id }, 'authorization failed at the provider; payment FAILED');
      const failed = { status: 'FAILED' as const, providerRef: null, declineCode: DECLINE_CODES.providerError };
      return (await this.deps.store.settleAuthorization(intent.id, failed, call.attempt, now)) ?? this.mustFind(intent.id);
    }
    const { result } = call;
    const status = statusAfterAuthorization(result.outcome);
    const declineCode = status === 'DECLINED' ? (result.declineCode ?? 'card_declined') : undefined;
    const applied = await this.deps.store.settleAuthorization(intent.id, { status, providerRef: result.providerRef, declineCode }, { id: call.attemptId, outcome: result.outcome }, now);
    if (applied) return applied;
    // Something settled it first: a webhook (fine) or a void while we waited (release the hold).
    const current = await this.mustFind(intent.id);
    if (current.status === 'VOIDED' && result.outcome !== 'declined') await this.releaseQuietly(intent.id, result.providerRef);
    return current;
  }

  /**
   * Captures the full amount of an AUTHORIZED intent, exactly once; a repeat answers the captured
   * intent. Two statements: the lease with the attempt before the call, the capture with the
   * attempt's outcome and the captured fact after.
   */
  async capture(id: string, idempotencyKey: string): Promise<payment.PaymentIntent> {
    const claimed = await this.claim(id, 'capture', ['AUTHORIZED'], idempotencyKey, (row) => (decideCapture(stateOf(row)) === 'capture' ? 'proceed' : 'done'));
    if (claimed.done) return toPaymentIntent(claimed.intent);
    const { intent, attemptId } = claimed;
    if (attemptId === undefined) throw new Error(`payment ${intent.id} is AUTHORIZED without a provider reference`);
    const amount: Money = { amount: intent.amount, currency: intent.currency };
    const attempt = await this.runLeased(intent, 'capture', idempotencyKey, attemptId, (key) => this.deps.provider.capture(this.refOf(intent), amount, key));
    const now = this.deps.clock.now();
    const fact = this.fact(events.EVENT_TYPES.PaymentCaptured, intent.id, now, { paymentId: intent.id, orderId: intent.orderId, amount } satisfies events.PaymentCaptured);
    const completed = await this.deps.store.completeCapture(intent.id, attempt, fact, now);
    if (!completed) {
      const current = await this.mustFind(intent.id);
      if (decideCapture(stateOf(current)) === 'already-captured') return toPaymentIntent(current);
      throw new AppError('CONFLICT', `payment ${intent.id} changed while it was being captured`);
    }
    if (completed.fact) this.notify(completed.fact, (n, envelope) => n.onCaptured?.(envelope.payload as events.PaymentCaptured, envelope));
    return toPaymentIntent(completed.intent);
  }

  /** Releases an authorization (saga compensation). Idempotent; a captured payment is refunded instead (409). */
  async void(id: string, idempotencyKey: string): Promise<payment.PaymentIntent> {
    const claimed = await this.claim(id, 'void', ['AUTHORIZED', 'PENDING'], idempotencyKey, (row) => (decideVoid(stateOf(row)) === 'nothing-held' ? 'done' : 'proceed'));
    if (claimed.done) return toPaymentIntent(claimed.intent);
    const { intent, attemptId } = claimed;
    const atProvider = decideVoid(stateOf(intent)) === 'release-at-provider';
    // The claim records the call exactly when there is a provider reference to release.
    if (atProvider !== (attemptId !== undefined)) throw new Error(`payment ${intent.id}: void at provider ${atProvider}, call recorded ${attemptId !== undefined}`);
    const attempt =
      attemptId === undefined ? undefined : await this.runLeased(intent, 'void', idempotencyKey, attemptId, (key) => this.deps.provider.void(this.refOf(intent), key));
    const voided = await this.deps.store.completeVoid(intent.id, attempt, this.deps.clock.now());
    if (voided) return toPaymentIntent(voided);
    const current = await this.mustFind(intent.id);
    if (current.status === 'VOIDED') return toPaymentIntent(current);
    throw new AppError('CONFLICT', `payment ${intent.id} became ${current.status} while it was being voided`);
  }

  /**
   * Refunds part or all of a captured payment. Each idempotency key refunds once; the amount is
   * reserved before the provider is called, so refunds never add up to more than was captured.
   */
  async refund(id: string, amount: Money, idempotencyKey: string): Promise<payment.PaymentIntent> {
    const intent = await this.mustFind(id);
    const known = await this.deps.store.findRefund(id, idempotencyKey);
    let refundId: string;
    let attemptId: string | undefined;
    if (known) {
      if (known.amount !== amount.amount || known.currency !== amount.currency) throw mismatch('refund amount');
      if (known.status === 'SUCCEEDED') return toPaymentIntent(await this.mustFind(id));
      refundId = known.id;
    } else {
      assertRefundable(stateOf(intent), amount);
      const now = this.deps.clock.now();
      refundId = newId();
      const attempt = this.newAttempt(id, 'refund', providerKeys.refund(refundId), idempotencyKey, now);
      const created = await this.deps.store.createRefund(
        { id: refundId, intentId: id, idempotencyKey, amount: amount.amount, currency: amount.currency, status: 'PENDING', createdAt: now, updatedAt: now },
        now,
        attempt,
      );
      if ('refused' in created) {
        // The guard saw newer state than our check: explain with the fresh intent.
        assertRefundable(stateOf(await this.mustFind(id)), amount);
        throw new AppError('CONFLICT', `payment ${id} changed while refunding; retry`);
      }
      if ('existing' in created) {
        if (created.existing.amount !== amount.amount || created.existing.currency !== amount.currency) throw mismatch('refund amount');
        if (created.existing.status === 'SUCCEEDED') return toPaymentIntent(await this.mustFind(id));
        refundId = created.existing.id;
      } else {
        attemptId = attempt.id;
      }
    }
    const key = providerKeys.refund(refundId);
    if (attemptId === undefined) {
      // A refund left PENDING by an earlier request: re-driven with its provider key.
      const redrive = this.newAttempt(id, 'refund', key, idempotencyKey, this.deps.clock.now());
      await this.deps.store.startAttempt(redrive);
      attemptId = redrive.id;
    }
    const call = await this.callProvider(id, 'refund', key, idempotencyKey, attemptId, () => this.deps.provider.refund(this.refOf(intent), amount, key));
    if (!call.ok) {
      // The amount stays reserved: the provider may have refunded; a retry with the same key re-drives.
      await this.deps.store.finishAttempt(call.attempt, this.deps.clock.now());
      throw this.providerFailure(call.error, `refund of payment ${id}`);
    }
    const updated = await this.deps.store.completeRefund(refundId, call.result.providerRef, { id: call.attemptId, outcome: 'succeeded' }, this.deps.clock.now());
    return toPaymentIntent(updated ?? (await this.mustFind(id)));
  }

  /** Applies a verified provider webhook; each event id once, final intents untouched. */
  async handleWebhook(event: SettlementEvent): Promise<WebhookOutcome> {
    const now = this.deps.clock.now();
    const result = await this.deps.store.applyWebhook(this.deps.provider.name, event, now, (row, decision) =>
      this.fact(events.EVENT_TYPES.PaymentSettled, row.id, now, {
        paymentId: row.id,
        orderId: row.orderId,
        status: decision.status,
        ...(decision.declineCode === undefined ? {} : { reason: decision.declineCode }),
      } satisfies events.PaymentSettled),
    );
    if (result.outcome === 'duplicate') return 'duplicate';
    if (result.outcome === 'ignored') {
      this.deps.logger.info({ eventId: event.id, paymentId: event.paymentId, reason: result.reason }, 'webhook event ignored');
      // An authorization that arrives after we voided would otherwise hold the shopper's money.
      if (result.intent?.status === 'VOIDED' && event.type === 'payment.authorized') await this.releaseQuietly(result.intent.id, event.providerRef);
      return 'ignored';
    }
    if (result.fact) this.notify(result.fact, (n, envelope) => n.onSettled?.(envelope.payload as events.PaymentSettled, envelope));
    return 'applied';
  }

  /**
   * Takes the intent's capture/void lease, recording the provider call it allows (`attemptId`, when
   * there is a provider reference to call with). `done` when `decide` says the work is done already;
   * waits (bounded) while another caller holds the lease; 503 if it is still held after that.
   */
  private async claim(
    id: string,
    op: 'capture' | 'void',
    from: readonly PaymentStatus[],
    requestKey: string,
    decide: (row: IntentRecord) => 'proceed' | 'done',
  ): Promise<{ done: true; intent: IntentRecord } | { done: false; intent: IntentRecord; attemptId: string | undefined }> {
    const { lease } = this.deps;
    const providerKey = op === 'capture' ? providerKeys.capture(id) : providerKeys.void(id);
    const deadline = Date.now() + lease.waitMs;
    for (;;) {
      const now = this.deps.clock.now();
      const attempt = this.newAttempt(id, op, providerKey, requestKey, now);
      const result = await this.deps.store.claimLease(id, op, from, requestKey, now, new Date(now.getTime() + lease.leaseMs), attempt);
      if (result.claimed) {
        if (decide(result.intent) !== 'proceed') throw new Error(`payment ${id} was claimed for ${op} in status ${result.intent.status}`);
        return { done: false, intent: result.intent, attemptId: result.attempted ? attempt.id : undefined };
      }
      if (result.reason === 'not-found') throw notFound(`Payment ${id}`);
      if (result.reason === 'order-captured') {
        throw new AppError('CONFLICT', `another payment of order ${(await this.mustFind(id)).orderId} is captured or being captured`);
      }
      if (decide(result.intent) === 'done') return { done: true, intent: result.intent };
      if (Date.now() >= deadline) throw new AppError('UNAVAILABLE', `payment ${id} is being processed by another request; retry`, { retryAfterSeconds: 1 });
      // busy: wait for the holder; state-changed: the claim's snapshot predates the change, claim again.
      if (result.reason === 'busy') await this.sleep(lease.pollMs);
    }
  }

  /**
   * Calls the provider under a held lease; the call's outcome to record with the change it allows.
   * On failure, releases the lease (with the outcome) so a retry can re-drive.
   */
  private async runLeased<T>(intent: IntentRecord, operation: 'capture' | 'void', requestKey: string, attemptId: string, call: (key: string) => Promise<T>): Promise<AttemptOutcome> {
    const key = operation === 'capture' ? providerKeys.capture(intent.id) : providerKeys.void(intent.id);
    const result = await this.callProvider(intent.id, operation, key, requestKey, attemptId, () => call(key));
    if (result.ok) return { id: result.attemptId, outcome: 'succeeded' };
    await this.deps.store.releaseLease(intent.id, result.attempt, this.deps.clock.now());
    throw this.providerFailure(result.error, `${operation} of payment ${intent.id}`);
  }

  /**
   * One provider operation with bounded retries; its first call is recorded already. ProviderErrors
   * are retried with backoff and the same key, each retry recorded (with the failed call's outcome)
   * before it is made; anything else is a bug and ends the operation. The last call's outcome is
   * the caller's to record, with the state change it leads to.
   */
  private async callProvider<T>(
    intentId: string,
    operation: Operation,
    providerKey: string,
    requestKey: string,
    firstAttemptId: string,
    call: () => Promise<T>,
  ): Promise<ProviderCall<T>> {
    const { attempts, backoffMs } = this.deps.retry;
    let attemptId = firstAttemptId;
    for (let n = 1; ; n++) {
      try {
        return { ok: true, result: await call(), attemptId };
      } catch (error) {
        const failed: AttemptOutcome = { id: attemptId, outcome: 'error', detail: error instanceof Error ? error.message : String(error) };
        if (!isProviderError(error) || !error.retryable || n >= attempts) return { ok: false, error, attempt: failed };
        this.deps.logger.warn({ err: error, paymentId: intentId, operation, attempt: n }, 'provider call failed; retrying with the same key');
        const next = this.newAttempt(intentId, operation, providerKey, requestKey, this.deps.clock.now());
        await this.deps.store.retryAttempt(failed, next, this.deps.clock.now());
        attemptId = next.id;
        await this.sleep(backoffMs * 2 ** (n - 1));
      }
    }
  }

  private providerFailure(err: unknown, what: string): unknown {
    if (!isProviderError(err)) return err;
    this.deps.logger.warn({ err }, `${what} failed at the provider`);
    return err.retryable
      ? new AppError('UNAVAILABLE', `the payment provider did not complete the ${what}; retry with the same idempotency key`, { retryAfterSeconds: 1, cause: err })
      : new AppError('CONFLICT', `the payment provider refused the ${what}: ${err.message}`, { cause: err, extras: { refusedBy: payment.PROVIDER_REFUSAL } });
  }

  /** Best effort: a hold we no longer want; a failure is logged (the provider's authorization expires on its own). */
  private async releaseQuietly(intentId: string, providerRef: string): Promise<void> {
    try {
      await this.deps.provider.void(providerRef, providerKeys.void(intentId));
    } catch (err) {
      this.deps.logger.warn({ err, paymentId: intentId }, 'could not release a late authorization of a voided payment');
    }
  }

  private refOf(intent: IntentRecord): string {
    if (intent.providerRef === null) throw new Error(`payment ${intent.id} has no provider reference`);
    return intent.providerRef;
  }

  private async mustFind(id: string): Promise<IntentRecord> {
    const row = await this.deps.store.findById(id);
    if (!row) throw notFound(`Payment ${id}`);
    return row;
  }

  private newAttempt(intentId: string, operation: Operation, providerKey: string, requestKey: string, now: Date): NewAttempt {
    return { id: newId(), intentId, operation, providerKey, requestKey, startedAt: now };
  }

  private fact(type: events.EventType, key: string, now: Date, payload: unknown): Fact {
    return newEnvelope(type, key, payload, now);
  }

  /** After commit: tells the notifier; its failure is logged, never lost (the fact is in the outbox). */
  private notify(fact: Fact, call: (notifier: PaymentNotifier, envelope: events.EventEnvelope) => void | Promise<void> | undefined): void {
    const notifier = this.deps.notifier;
    if (!notifier) return;
    Promise.resolve()
      .then(() => call(notifier, fact))
      .catch((err: unknown) => this.deps.logger.warn({ err, eventId: fact.id, type: fact.type }, 'payment notifier failed; the fact stays in the outbox'));
  }
}

/** A provider call's result and the attempt that got it, or its failure as the attempt's outcome. */
type ProviderCall<T> = { ok: true; result: T; attemptId: string } | { ok: false; error: unknown; attempt: AttemptOutcome };
