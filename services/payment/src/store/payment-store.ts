import { and, asc, eq, isNotNull, sql, type SQL } from 'drizzle-orm';
import { PG_UNIQUE_VIOLATION, currentTraceCarrier, pgConstraint, pgErrorCode, type Executor, type Storage } from '@agora/platform';
import type { events } from '@agora/contracts';
import type { PaymentStatus } from '../domain/intent.js';
import { decideSettlement, type SettlementDecision, type SettlementEvent } from '../domain/settlement.js';
import {
  claimLeaseStatement,
  completeCaptureStatement,
  completeVoidStatement,
  createIntentStatement,
  finishAttemptStatement,
  intentOf,
  releaseLeaseStatement,
  retryAttemptStatement,
  settleAuthorizationStatement,
  startAttemptStatement,
  type AttemptOutcome,
  type IntentRecord,
  type LeaseOp,
  type NewAttempt,
  type NewIntent,
} from './intent-statements.js';
import { attempts, intents, outbox, refunds, webhookEvents } from './schema.js';

export type { IntentRecord, NewIntent, NewAttempt, AttemptOutcome, LeaseOp } from './intent-statements.js';
export type RefundRecord = typeof refunds.$inferSelect;
export type AttemptRecord = typeof attempts.$inferSelect;
export type Operation = AttemptRecord['operation'];
export type FactRecord = typeof outbox.$inferSelect;

/** A fact to write to the outbox with the change it describes. */
export type Fact = events.EventEnvelope;

/**
 * `attempted`: the provider call the lease holder makes is recorded (the intent has a provider
 * reference). Unclaimed, `intent` is the intent as the claim saw it (none when not found or when
 * another intent of the order is captured or capturing).
 */
export type ClaimResult =
  | { claimed: true; intent: IntentRecord; attempted: boolean }
  | { claimed: false; reason: 'not-found' }
  | { claimed: false; reason: 'order-captured' }
  | { claimed: false; reason: 'busy'; intent: IntentRecord }
  | { claimed: false; reason: 'state-changed'; intent: IntentRecord };

export type WebhookResult =
  | { outcome: 'duplicate' }
  | { outcome: 'applied'; intent: IntentRecord; fact: Fact | undefined }
  | { outcome: 'ignored'; reason: string; intent: IntentRecord | undefined };


/** SQL for the payment service: guarded single-statement transitions, facts in the same transaction. */
export class PaymentStore {
  constructor(private readonly storage: Storage) {}

  private get db(): Executor {
    return this.storage.db;
  }

  /**
   * Inserts the intent and its first provider attempt in one statement, unless an intent with the
   * idempotency key exists; `created` tells which. The attempt is stored before the provider is
   * called, so a crash in between leaves a trace to re-drive from.
   */
  async createIntent(intent: NewIntent & { status: PaymentStatus }, attempt: NewAttempt): Promise<{ intent: IntentRecord; created: boolean }> {
    const [row] = await this.storage.query<Record<string, unknown>>(createIntentStatement(intent, attempt));
    if (row) return { intent: intentOf(row), created: row.created === true };
    // The key was taken by a twin that committed after this statement's snapshot: it is there now.
    const existing = await this.findByKey(intent.idempotencyKey);
    if (!existing) throw new Error(`intent with key ${intent.idempotencyKey} conflicted but cannot be read`);
    return { intent: existing, created: false };
  }

  async findById(id: string): Promise<IntentRecord | undefined> {
    const [row] = await this.db.select().from(intents).where(eq(intents.id, id)).limit(1);
    return row;
  }

  async findByKey(idempotencyKey: string): Promise<IntentRecord | undefined> {
    const [row] = await this.db.select().from(intents).where(eq(intents.idempotencyKey, idempotencyKey)).limit(1);
    return row;
  }

  /** The intent a provider reference belongs to (the sandbox relearning a charge after a restart; rare, so no index). */
  async findByProviderRef(provider: string, providerRef: string): Promise<IntentRecord | undefined> {
    const [row] = await this.db.select().from(intents).where(and(eq(intents.provider, provider), eq(intents.providerRef, providerRef))).limit(1);
    return row;
  }

  /** Intents the provider acknowledged as pending and that have not settled yet, oldest first. */
  async pendingAtProvider(provider: string, limit: number): Promise<IntentRecord[]> {
    return this.db
      .select()
      .from(intents)
      .where(and(eq(intents.provider, provider), eq(intents.status, 'PENDING'), isNotNull(intents.providerRef)))
      .orderBy(asc(intents.createdAt))
      .limit(limit);
  }

  async listByOrder(orderId: string): Promise<IntentRecord[]> {
    return this.db.select().from(intents).where(eq(intents.orderId, orderId)).orderBy(asc(intents.createdAt), asc(intents.id));
  }

  /** Records a provider call before it is made; numbered after earlier calls with the same provider key. */
  async startAttempt(attempt: NewAttempt): Promise<void> {
    await this.storage.query(startAttemptStatement(attempt));
  }

  /** Records a failed call's outcome and the retry about to be made. */
  async retryAttempt(failed: AttemptOutcome, next: NewAttempt, now: Date): Promise<void> {
    const rows = await this.storage.query(retryAttemptStatement(failed, next, now));
    assertAttemptsRecorded(rows.length, 1, `attempt ${failed.id}`);
  }

  async finishAttempt(attempt: AttemptOutcome, now: Date): Promise<void> {
    const rows = await this.storage.query(finishAttemptStatement(attempt, now));
    assertAttemptsRecorded(rows.length, 1, `attempt ${attempt.id}`);
  }

  async attemptsOf(intentId: string, operation?: Operation): Promise<AttemptRecord[]> {
    const where = operation === undefined ? eq(attempts.intentId, intentId) : and(eq(attempts.intentId, intentId), eq(attempts.operation, operation));
    return this.db.select().from(attempts).where(where).orderBy(asc(attempts.startedAt), asc(attempts.attemptNo));
  }

  /**
   * Applies the provider's answer to an intent nobody settled yet (PENDING, no provider reference),
   * with the attempt's outcome: `status` and `providerRef` from the answer, or FAILED when the
   * provider could not be reached. Undefined when something else settled it first (a webhook, a void).
   */
  async settleAuthorization(
    id: string,
    change: { status: PaymentStatus; providerRef: string | null; declineCode: string | undefined },
    attempt: AttemptOutcome,
    now: Date,
  ): Promise<IntentRecord | undefined> {
    return this.withAttempt(settleAuthorizationStatement(id, { ...change, declineCode: change.declineCode ?? null }, attempt, now), attempt);
  }

  /**
   * Takes the capture/void lease on an intent in one of `from`, unless another caller holds a live
   * one, and records the provider call the holder makes, in one statement. A capture refuses
   * (`order-captured`) when another intent of the same order is captured or has started capturing,
   * so no order is ever captured twice.
   */
  async claimLease(id: string, op: LeaseOp, from: readonly PaymentStatus[], requestKey: string, now: Date, until: Date, attempt: NewAttempt): Promise<ClaimResult> {
    let row: Record<string, unknown> | undefined;
    try {
      [row] = await this.storage.query<Record<string, unknown>>(claimLeaseStatement(id, op, from, requestKey, now, until, attempt));
    } catch (err) {
      if (pgErrorCode(err) === PG_UNIQUE_VIOLATION && pgConstraint(err) === ONE_CAPTURE_CLAIM_PER_ORDER) return { claimed: false, reason: 'order-captured' };
      throw err;
    }
    if (!row) return { claimed: false, reason: 'not-found' };
    const intent = intentOf(row);
    if (row.claimed === true) return { claimed: true, intent, attempted: row.attempted === true };
    const leased = intent.leaseUntil !== null && intent.leaseUntil >= now && from.includes(intent.status);
    return leased ? { claimed: false, reason: 'busy', intent } : { claimed: false, reason: 'state-changed', intent };
  }

  /** Releases the lease after a failed call, with the call's outcome. */
  async releaseLease(id: string, attempt: AttemptOutcome, now: Date): Promise<void> {
    await this.withAttempt(releaseLeaseStatement(id, attempt, now), attempt);
  }

  /**
   * AUTHORIZED → CAPTURED with the call's outcome and the captured fact, once; undefined when the
   * intent is no longer AUTHORIZED. `fact` is undefined when its id was in the outbox already.
   */
  async completeCapture(id: string, attempt: AttemptOutcome, fact: Fact, now: Date): Promise<{ intent: IntentRecord; fact: Fact | undefined } | undefined> {
    const [row] = await this.storage.query<Record<string, unknown>>(completeCaptureStatement(id, attempt, fact, now));
    assertAttemptsRecorded(row?.finished_attempts, 1, `attempt ${attempt.id}`);
    if (!row || row.id === null) return undefined;
    return { intent: intentOf(row), fact: row.facts === 1 ? fact : undefined };
  }

  /** AUTHORIZED or PENDING → VOIDED, with the call's outcome when there was one; undefined when the intent is in neither any more. */
  async completeVoid(id: string, attempt: AttemptOutcome | undefined, now: Date): Promise<IntentRecord | undefined> {
    const [row] = await this.storage.query<Record<string, unknown>>(completeVoidStatement(id, attempt, now));
    assertAttemptsRecorded(row?.finished_attempts, attempt === undefined ? 0 : 1, `void of payment ${id}`);
    return row && row.id !== null ? intentOf(row) : undefined;
  }

  /** Runs a statement ending in the one-row outcome of `intent-statements.ts`: the attempt recorded, the intent if changed. */
  private async withAttempt(statement: SQL, attempt: AttemptOutcome): Promise<IntentRecord | undefined> {
    const [row] = await this.storage.query<Record<string, unknown>>(statement);
    assertAttemptsRecorded(row?.finished_attempts, 1, `attempt ${attempt.id}`);
    return row && row.id !== null ? intentOf(row) : undefined;
  }

  async findRefund(intentId: string, idempotencyKey: string): Promise<RefundRecord | undefined> {
    const [row] = await this.db
      .select()
      .from(refunds)
      .where(and(eq(refunds.intentId, intentId), eq(refunds.idempotencyKey, idempotencyKey)))
      .limit(1);
    return row;
  }

  async refundsOf(intentId: string): Promise<RefundRecord[]> {
    return this.db.select().from(refunds).where(eq(refunds.intentId, intentId)).orderBy(asc(refunds.createdAt), asc(refunds.id));
  }

  /**
   * Creates a PENDING refund and reserves its amount on the intent in one transaction. The reserve
   * is one guarded statement (`refund_reserved + amount <= captured_amount`), so concurrent refunds
   * can never add up to more than was captured. `existing` when the key was used before;
   * `refused` when the intent cannot give that much back (the caller explains why).
   */
  async createRefund(refund: typeof refunds.$inferInsert, now: Date, attempt: NewAttempt): Promise<{ created: RefundRecord } | { existing: RefundRecord } | { refused: true }> {
    const outcome = await this.storage
      .transaction(async (tx) => {
        const [row] = await tx.insert(refunds).values(refund).onConflictDoNothing({ target: [refunds.intentId, refunds.idempotencyKey] }).returning();
        if (!row) return undefined;
        const [reserved] = await tx
          .update(intents)
          .set({ refundReserved: sql`${intents.refundReserved} + ${refund.amount}`, updatedAt: now })
          .where(
            and(
              eq(intents.id, refund.intentId),
              eq(intents.status, 'CAPTURED'),
              eq(intents.currency, refund.currency),
              sql`${intents.refundReserved} + ${refund.amount} <= ${intents.capturedAmount}`,
            ),
          )
          .returning({ id: intents.id });
        if (!reserved) throw new RefundRefused();
        await tx.insert(attempts).values({ ...attempt, attemptNo: 1 });
        return { created: row };
      })
      .catch((err: unknown) => {
        if (err instanceof RefundRefused) return { refused: true as const };
        throw err;
      });
    if (outcome) return outcome;
    const existing = await this.findRefund(refund.intentId, refund.idempotencyKey);
    if (!existing) throw new Error(`refund with key ${refund.idempotencyKey} conflicted but cannot be read`);
    return { existing };
  }

  /** PENDING → SUCCEEDED with the call's outcome, adding the amount to the intent's refunded total (REFUNDED when it reaches captured); once. */
  async completeRefund(refundId: string, providerRef: string, attempt: AttemptOutcome, now: Date): Promise<IntentRecord | undefined> {
    return this.storage.transaction(async (tx) => {
      assertAttemptsRecorded((await this.storage.query(finishAttemptStatement(attempt, now), tx)).length, 1, `attempt ${attempt.id}`);
      const [refund] = await tx
        .update(refunds)
        .set({ status: 'SUCCEEDED', providerRef, updatedAt: now })
        .where(and(eq(refunds.id, refundId), eq(refunds.status, 'PENDING')))
        .returning();
      if (!refund) return undefined;
      const [row] = await tx
        .update(intents)
        .set({
          refundedAmount: sql`${intents.refundedAmount} + ${refund.amount}`,
          status: sql`case when ${intents.refundedAmount} + ${refund.amount} = ${intents.capturedAmount} then 'REFUNDED' else ${intents.status} end`,
          updatedAt: now,
        })
        .where(eq(intents.id, refund.intentId))
        .returning();
      return row;
    });
  }

  /**
   * Processes one webhook event in one transaction: claims its id (a duplicate changes nothing),
   * locks the intent, settles it when `decideSettlement` says so and writes the settled fact.
   */
  async applyWebhook(provider: string, event: SettlementEvent, now: Date, fact: (intent: IntentRecord, decision: Extract<SettlementDecision, { apply: true }>) => Fact): Promise<WebhookResult> {
    return this.storage.transaction(async (tx): Promise<WebhookResult> => {
      const [claimed] = await tx
        .insert(webhookEvents)
        .values({ provider, eventId: event.id, type: event.type, paymentId: event.paymentId, outcome: 'processing', receivedAt: now })
        .onConflictDoNothing()
        .returning({ eventId: webhookEvents.eventId });
      if (!claimed) return { outcome: 'duplicate' };
      const [current] = await tx.select().from(intents).where(eq(intents.id, event.paymentId)).limit(1).for('update');
      const decision = decideSettlement(current && { status: current.status, providerRef: current.providerRef ?? undefined }, event);
      const markEvent = (outcome: string) =>
        tx
          .update(webhookEvents)
          .set({ outcome })
          .where(and(eq(webhookEvents.provider, provider), eq(webhookEvents.eventId, event.id)));
      if (!decision.apply || !current) {
        const reason = decision.apply ? 'unknown_payment' : decision.reason;
        await markEvent(reason);
        return { outcome: 'ignored', reason, intent: current };
      }
      const [row] = await tx
        .update(intents)
        .set({ status: decision.status, providerRef: event.providerRef, declineCode: decision.declineCode ?? null, updatedAt: now })
        .where(and(eq(intents.id, current.id), eq(intents.status, 'PENDING')))
        .returning();
      if (!row) throw new Error(`payment ${current.id} changed under its row lock`);
      await markEvent('applied');
      return { outcome: 'applied', intent: row, fact: await this.appendFact(tx, fact(row, decision)) };
    });
  }

  async webhookOutcome(provider: string, eventId: string): Promise<string | undefined> {
    const [row] = await this.db
      .select({ outcome: webhookEvents.outcome })
      .from(webhookEvents)
      .where(and(eq(webhookEvents.provider, provider), eq(webhookEvents.eventId, eventId)))
      .limit(1);
    return row?.outcome;
  }

  /**
   * Writes a fact to the outbox in the caller's transaction (the platform's `writeOutbox` does the
   * same); returns it when written, undefined when its id was there already.
   */
  async appendFact(executor: Executor, fact: Fact): Promise<Fact | undefined> {
    const [row] = await executor
      .insert(outbox)
      .values({ id: fact.id, type: fact.type, key: fact.key, occurredAt: new Date(fact.occurredAt), payload: fact.payload, traceContext: currentTraceCarrier() ?? null })
      .onConflictDoNothing({ target: outbox.id })
      .returning({ id: outbox.id });
    return row ? fact : undefined;
  }
}

/** The constraint that makes a second capture claim of one order fail (migration 0001). */
const ONE_CAPTURE_CLAIM_PER_ORDER = 'intents_one_capture_claim_per_order';

/** Every fused statement records exactly the attempts it names: anything else is a bug, not a state. */
function assertAttemptsRecorded(actual: unknown, expected: number, what: string): void {
  if (Number(actual) !== expected) throw new Error(`${what}: ${expected} provider attempt(s) should have been recorded, got ${String(actual)}`);
}


class RefundRefused extends Error {
  constructor() {
    super('refund refused by the reserve guard');
  }
}

const toEnvelope = (row: FactRecord): events.EventEnvelope => ({ id: row.id, type: row.type, key: row.key, occurredAt: row.occurredAt.toISOString(), payload: row.payload });

/** Facts of one payment (or of every payment), oldest first. */
export async function paymentFacts(storage: Storage, filter: { key?: string; type?: string } = {}): Promise<events.EventEnvelope[]> {
  const conditions = [filter.key === undefined ? undefined : eq(outbox.key, filter.key), filter.type === undefined ? undefined : eq(outbox.type, filter.type)];
  const rows = await storage.db
    .select()
    .from(outbox)
    .where(and(...conditions))
    .orderBy(asc(outbox.occurredAt), asc(outbox.id));
  return rows.map(toEnvelope);
}
