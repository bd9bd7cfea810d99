import { and, asc, count, eq, inArray, isNotNull, isNull, lt, ne, or, sql } from 'drizzle-orm';
import { advisoryKey, type Executor, type Storage } from '@agora/platform';
import type { events } from '@agora/contracts';
import { CAPTURED_STATUSES, type PaymentStatus } from '../domain/intent.js';
import { decideSettlement, type SettlementDecision, type SettlementEvent } from '../domain/settlement.js';
import { attempts, intents, outbox, refunds, webhookEvents } from './schema.js';

export type IntentRecord = typeof intents.$inferSelect;
export type NewIntent = typeof intents.$inferInsert;
export type RefundRecord = typeof refunds.$inferSelect;
export type AttemptRecord = typeof attempts.$inferSelect;
export type Operation = AttemptRecord['operation'];
export type FactRecord = typeof outbox.$inferSelect;

export interface NewAttempt {
  id: string;
  intentId: string;
  operation: Operation;
  providerKey: string;
  requestKey: string;
  startedAt: Date;
}

/** A fact to write to the outbox with the change it describes. */
export type Fact = events.EventEnvelope;

export type LeaseOp = 'capture' | 'void';

export type ClaimResult = { claimed: true; intent: IntentRecord } | { claimed: false; reason: 'not-found' | 'busy' | 'state-changed' | 'order-captured' };

export type WebhookResult =
  | { outcome: 'duplicate' }
  | { outcome: 'applied'; intent: IntentRecord; fact: Fact | undefined }
  | { outcome: 'ignored'; reason: string; intent: IntentRecord | undefined };

const CAPTURED = [...CAPTURED_STATUSES] as PaymentStatus[];
const iso = (date: Date) => sql`${date.toISOString()}::timestamptz`;

/** SQL for the payment service: guarded single-statement transitions, facts in the same transaction. */
export class PaymentStore {
  constructor(private readonly storage: Storage) {}

  private get db(): Executor {
    return this.storage.db;
  }

  /**
   * Inserts the intent and its first provider attempt in one transaction, unless an intent with
   * the idempotency key exists; `created` tells which. The attempt is stored before the provider
   * is called, so a crash in between leaves a trace to re-drive from.
   */
  async createIntent(intent: NewIntent, attempt: NewAttempt): Promise<{ intent: IntentRecord; created: boolean }> {
    const inserted = await this.storage.transaction(async (tx) => {
      const [row] = await tx.insert(intents).values(intent).onConflictDoNothing({ target: intents.idempotencyKey }).returning();
      if (!row) return undefined;
      await tx.insert(attempts).values({ ...attempt, attemptNo: 1 });
      return row;
    });
    if (inserted) return { intent: inserted, created: true };
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
    await this.storage.transaction(async (tx) => {
      const [row] = await tx.select({ n: count() }).from(attempts).where(eq(attempts.providerKey, attempt.providerKey));
      await tx.insert(attempts).values({ ...attempt, attemptNo: (row?.n ?? 0) + 1 });
    });
  }

  async finishAttempt(id: string, outcome: string, detail: string | undefined, now: Date): Promise<void> {
    await this.db.update(attempts).set({ outcome, detail: detail ?? null, finishedAt: now }).where(eq(attempts.id, id));
  }

  async attemptsOf(intentId: string, operation?: Operation): Promise<AttemptRecord[]> {
    const where = operation === undefined ? eq(attempts.intentId, intentId) : and(eq(attempts.intentId, intentId), eq(attempts.operation, operation));
    return this.db.select().from(attempts).where(where).orderBy(asc(attempts.startedAt), asc(attempts.attemptNo));
  }

  /**
   * Applies the provider's synchronous answer to an intent nobody settled yet (PENDING, no
   * provider reference). Undefined when something else settled it first (a webhook, a void).
   */
  async applyAuthorization(id: string, change: { status: PaymentStatus; providerRef: string; declineCode: string | undefined }, now: Date): Promise<IntentRecord | undefined> {
    const [row] = await this.db
      .update(intents)
      .set({ status: change.status, providerRef: change.providerRef, declineCode: change.declineCode ?? null, updatedAt: now })
      .where(and(eq(intents.id, id), eq(intents.status, 'PENDING'), isNull(intents.providerRef)))
      .returning();
    return row;
  }

  /** The provider could not be reached within the retry budget: FAILED, if still unsettled. */
  async failAuthorization(id: string, declineCode: string, now: Date): Promise<IntentRecord | undefined> {
    const [row] = await this.db
      .update(intents)
      .set({ status: 'FAILED', declineCode, updatedAt: now })
      .where(and(eq(intents.id, id), eq(intents.status, 'PENDING'), isNull(intents.providerRef)))
      .returning();
    return row;
  }

  /**
   * Takes the capture/void lease on an intent in one of `from`, unless another caller holds a live
   * one. A capture also takes the order's advisory lock and refuses when another intent of the
   * same order is captured or has started capturing, so no order is ever captured twice.
   */
  async claimLease(id: string, op: LeaseOp, from: readonly PaymentStatus[], requestKey: string, now: Date, until: Date): Promise<ClaimResult> {
    return this.storage.transaction(async (tx): Promise<ClaimResult> => {
      const [current] = await tx.select().from(intents).where(eq(intents.id, id)).limit(1);
      if (!current) return { claimed: false, reason: 'not-found' };
      if (op === 'capture') {
        await tx.execute(sql`select pg_advisory_xact_lock(${advisoryKey('payment:capture')}, ${advisoryKey(current.orderId)})`);
        const [other] = await tx
          .select({ n: count() })
          .from(intents)
          .where(
            and(
              eq(intents.orderId, current.orderId),
              ne(intents.id, id),
              or(inArray(intents.status, CAPTURED), and(eq(intents.status, 'AUTHORIZED'), sql`${intents.captureStartedAt} is not null`)),
            ),
          );
        if ((other?.n ?? 0) > 0) return { claimed: false, reason: 'order-captured' };
      }
      const [row] = await tx
        .update(intents)
        .set({
          leaseOp: op,
          leaseUntil: until,
          updatedAt: now,
          ...(op === 'capture'
            ? { captureStartedAt: sql`coalesce(${intents.captureStartedAt}, ${iso(now)})`, captureKey: sql`coalesce(${intents.captureKey}, ${requestKey})` }
            : { voidKey: sql`coalesce(${intents.voidKey}, ${requestKey})` }),
        })
        .where(and(eq(intents.id, id), inArray(intents.status, [...from]), or(isNull(intents.leaseUntil), lt(intents.leaseUntil, now))))
        .returning();
      if (row) return { claimed: true, intent: row };
      const leased = current.leaseUntil !== null && current.leaseUntil >= now && from.includes(current.status);
      return { claimed: false, reason: leased ? 'busy' : 'state-changed' };
    });
  }

  async releaseLease(id: string, now: Date): Promise<void> {
    await this.db.update(intents).set({ leaseOp: null, leaseUntil: null, updatedAt: now }).where(eq(intents.id, id));
  }

  /** AUTHORIZED → CAPTURED with the captured fact, once; undefined when the intent is no longer AUTHORIZED. */
  async completeCapture(id: string, now: Date, fact: (intent: IntentRecord) => Fact): Promise<{ intent: IntentRecord; fact: Fact | undefined } | undefined> {
    return this.storage.transaction(async (tx) => {
      const [row] = await tx
        .update(intents)
        .set({ status: 'CAPTURED', capturedAmount: sql`${intents.amount}`, leaseOp: null, leaseUntil: null, updatedAt: now })
        .where(and(eq(intents.id, id), eq(intents.status, 'AUTHORIZED')))
        .returning();
      if (!row) return undefined;
      return { intent: row, fact: await this.appendFact(tx, fact(row)) };
    });
  }

  /** AUTHORIZED or PENDING → VOIDED; undefined when the intent is in neither any more. */
  async completeVoid(id: string, now: Date): Promise<IntentRecord | undefined> {
    const [row] = await this.db
      .update(intents)
      .set({ status: 'VOIDED', leaseOp: null, leaseUntil: null, updatedAt: now })
      .where(and(eq(intents.id, id), inArray(intents.status, ['AUTHORIZED', 'PENDING'])))
      .returning();
    return row;
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

  /** PENDING → SUCCEEDED, adding the amount to the intent's refunded total (REFUNDED when it reaches captured); once. */
  async completeRefund(refundId: string, providerRef: string, now: Date): Promise<IntentRecord | undefined> {
    return this.storage.transaction(async (tx) => {
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
      .values({ id: fact.id, type: fact.type, key: fact.key, occurredAt: new Date(fact.occurredAt), payload: fact.payload })
      .onConflictDoNothing({ target: outbox.id })
      .returning({ id: outbox.id });
    return row ? fact : undefined;
  }
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

/** For the outbox relay: facts not yet handed to the bus, oldest first. */
export async function unpublishedPaymentFacts(storage: Storage, limit: number): Promise<events.EventEnvelope[]> {
  const rows = await storage.db.select().from(outbox).where(isNull(outbox.publishedAt)).orderBy(asc(outbox.occurredAt), asc(outbox.id)).limit(limit);
  return rows.map(toEnvelope);
}

/** For the outbox relay: marks facts the bus accepted (it deduplicates by id, so a repeat is harmless). */
export async function markPaymentFactsPublished(storage: Storage, ids: readonly string[], now: Date): Promise<void> {
  if (ids.length === 0) return;
  await storage.db
    .update(outbox)
    .set({ publishedAt: now })
    .where(and(inArray(outbox.id, [...ids]), isNull(outbox.publishedAt)));
}
