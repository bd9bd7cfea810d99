import { sql } from 'drizzle-orm';
import { bigint, check, index, integer, jsonb, pgSchema, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

export const paymentSchema = pgSchema('payment');

const amountColumn = (name: string) => bigint(name, { mode: 'number' });
const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Payment intents, one per authorize idempotency key. Amounts are integer minor units in the
 * intent's currency. The CHECKs are the ledger invariant, enforced whatever the code does:
 * 0 <= refunded <= refund_reserved <= captured <= amount, and money taken iff CAPTURED/REFUNDED.
 */
export const intents = paymentSchema.table(
  'intents',
  {
    id: uuid('id').primaryKey(),
    orderId: uuid('order_id').notNull(),
    userId: uuid('user_id').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    /** SHA-256 of the authorize request, so the same key with another body is refused. */
    requestHash: text('request_hash').notNull(),
    currency: text('currency').notNull(),
    amount: amountColumn('amount').notNull(),
    status: text('status', { enum: ['PENDING', 'AUTHORIZED', 'DECLINED', 'FAILED', 'CAPTURED', 'VOIDED', 'REFUNDED'] }).notNull(),
    declineCode: text('decline_code'),
    provider: text('provider').notNull(),
    /** The provider's reference, set once it acknowledged the authorization. */
    providerRef: text('provider_ref'),
    capturedAmount: amountColumn('captured_amount').notNull().default(0),
    /** Refunds reserved (in flight or done): reserving first makes concurrent refunds unable to over-refund. */
    refundReserved: amountColumn('refund_reserved').notNull().default(0),
    refundedAmount: amountColumn('refunded_amount').notNull().default(0),
    /** A capture or void in progress holds this lease, so concurrent callers do not call the provider twice. */
    leaseOp: text('lease_op', { enum: ['capture', 'void'] }),
    leaseUntil: at('lease_until'),
    /** Set when a capture first started; never cleared (the provider may have captured even if we never heard back). */
    captureStartedAt: at('capture_started_at'),
    captureKey: text('capture_key'),
    voidKey: text('void_key'),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('intents_idempotency_key_key').on(t.idempotencyKey),
    index('intents_order_id_idx').on(t.orderId),
    // Last line of "no order captured twice": at most one intent per order ever holds captured money.
    uniqueIndex('intents_one_capture_per_order').on(t.orderId).where(sql`${t.status} in ('CAPTURED', 'REFUNDED')`),
    // The capture claim's guard: one intent per order captured or capturing. A second intent's claim
    // fails on it, in the claim's own statement (no lock held across statements).
    uniqueIndex('intents_one_capture_claim_per_order')
      .on(t.orderId)
      .where(sql`${t.status} in ('CAPTURED', 'REFUNDED') or (${t.status} = 'AUTHORIZED' and ${t.captureStartedAt} is not null)`),
    check('intents_status_known', sql`${t.status} in ('PENDING', 'AUTHORIZED', 'DECLINED', 'FAILED', 'CAPTURED', 'VOIDED', 'REFUNDED')`),
    check('intents_currency_iso', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    check('intents_amount_positive', sql`${t.amount} > 0`),
    check('intents_captured_within_amount', sql`${t.capturedAmount} >= 0 and ${t.capturedAmount} <= ${t.amount}`),
    check('intents_refund_reserved_within_captured', sql`${t.refundReserved} >= ${t.refundedAmount} and ${t.refundReserved} <= ${t.capturedAmount}`),
    check('intents_refunded_non_negative', sql`${t.refundedAmount} >= 0`),
    check('intents_captured_iff_status', sql`(${t.status} in ('CAPTURED', 'REFUNDED')) = (${t.capturedAmount} > 0)`),
    check('intents_refunded_in_full', sql`${t.status} <> 'REFUNDED' or ${t.refundedAmount} = ${t.capturedAmount}`),
  ],
);

/**
 * Every call to the provider, written before the call: a crash in between leaves the row, and the
 * next request re-drives with the same provider idempotency key.
 */
export const attempts = paymentSchema.table(
  'attempts',
  {
    id: uuid('id').primaryKey(),
    intentId: uuid('intent_id')
      .notNull()
      .references(() => intents.id),
    operation: text('operation', { enum: ['authorize', 'capture', 'void', 'refund'] }).notNull(),
    /** The idempotency key sent to the provider: the same for every retry of one operation. */
    providerKey: text('provider_key').notNull(),
    /** The caller's idempotency key that caused the call. */
    requestKey: text('request_key').notNull(),
    attemptNo: integer('attempt_no').notNull(),
    /** null while the call is out; then approved/declined/pending/succeeded/error. */
    outcome: text('outcome'),
    detail: text('detail'),
    startedAt: at('started_at').notNull(),
    finishedAt: at('finished_at'),
  },
  (t) => [index('attempts_intent_id_idx').on(t.intentId), index('attempts_provider_key_idx').on(t.providerKey), check('attempts_attempt_no_positive', sql`${t.attemptNo} > 0`)],
);

/** Refunds of a captured intent, each keyed by the caller's idempotency key. */
export const refunds = paymentSchema.table(
  'refunds',
  {
    id: uuid('id').primaryKey(),
    intentId: uuid('intent_id')
      .notNull()
      .references(() => intents.id),
    idempotencyKey: text('idempotency_key').notNull(),
    amount: amountColumn('amount').notNull(),
    currency: text('currency').notNull(),
    /** PENDING until the provider confirmed; a PENDING refund keeps its amount reserved on the intent. */
    status: text('status', { enum: ['PENDING', 'SUCCEEDED'] }).notNull(),
    providerRef: text('provider_ref'),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('refunds_intent_key_key').on(t.intentId, t.idempotencyKey),
    check('refunds_amount_positive', sql`${t.amount} > 0`),
    check('refunds_status_known', sql`${t.status} in ('PENDING', 'SUCCEEDED')`),
  ],
);

/** Provider webhook events already processed: a redelivery of the same id changes nothing. */
export const webhookEvents = paymentSchema.table(
  'webhook_events',
  {
    provider: text('provider').notNull(),
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    paymentId: uuid('payment_id').notNull(),
    /** applied, or why it was ignored (unknown_payment, already_final, provider_ref_mismatch). */
    outcome: text('outcome').notNull(),
    receivedAt: at('received_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.provider, t.eventId] })],
);

/**
 * Facts other services react to (`payment.settled`, `payment.captured`), written in the same
 * transaction as the change, in the shape of the bus's EventEnvelope. Column for column and index
 * for index the table `outboxTable(schema)` of the platform's messaging block makes, so its
 * `OutboxRelay({ schema: 'payment' })` drains it as is. One fact per change: the guarded status
 * updates that write them succeed once.
 */
export const outbox = paymentSchema.table(
  'outbox',
  {
    id: uuid('id').primaryKey(),
    type: text('type').notNull(),
    key: text('key').notNull(),
    payload: jsonb('payload').notNull(),
    occurredAt: at('occurred_at').notNull(),
    publishedAt: at('published_at'),
    traceContext: jsonb('trace_context'),
  },
  (t) => [
    index('outbox_unpublished_idx').on(t.occurredAt, t.id).where(sql`${t.publishedAt} is null`),
    index('outbox_published_at_idx').on(t.publishedAt).where(sql`${t.publishedAt} is not null`),
  ],
);
