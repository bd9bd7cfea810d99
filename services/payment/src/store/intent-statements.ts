import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import { currentTraceCarrier } from '@agora/platform';
import type { PaymentStatus } from '../domain/intent.js';
import { intents } from './schema.js';

/**
 * The payment hot path as single statements: each provider call is bracketed by exactly one write
 * before it (the intent or lease together with the attempt that may happen) and one after it (the
 * outcome together with the attempt's result and, for a capture, the outbox fact). Data-modifying
 * CTEs run exactly once and always to completion, whether or not the final SELECT reads them, and
 * commit or fail together: one autocommitted statement is one durable commit.
 */

export type IntentRecord = typeof intents.$inferSelect;
export type NewIntent = typeof intents.$inferInsert;

export interface NewAttempt {
  id: string;
  intentId: string;
  operation: 'authorize' | 'capture' | 'void' | 'refund';
  providerKey: string;
  requestKey: string;
  startedAt: Date;
}

/** How one provider call ended: written with the state change it leads to. */
export interface AttemptOutcome {
  id: string;
  /** approved/declined/pending/succeeded/error */
  outcome: string;
  detail?: string | undefined;
}

export type LeaseOp = 'capture' | 'void';

export const iso = (date: Date): SQL => sql`${date.toISOString()}::timestamptz`;

const INTENT_COLUMNS = Object.entries(getTableColumns(intents));

/** An intent from a raw row (snake_case, driver values), mapped as drizzle maps its own selects. */
export function intentOf(raw: Record<string, unknown>): IntentRecord {
  const row: Record<string, unknown> = {};
  for (const [key, column] of INTENT_COLUMNS) {
    const value = raw[column.name];
    if (value === undefined) throw new Error(`payment.intents row without column ${column.name}`);
    row[key] = value === null ? null : column.mapFromDriverValue(value);
  }
  return row as IntentRecord;
}

/** The next attempt number of a provider key: numbered after every earlier call with that key. */
const nextAttemptNo = (providerKey: string): SQL =>
  sql`1 + coalesce((select max(a.attempt_no) from payment.attempts a where a.provider_key = ${providerKey}), 0)`;

/** A CTE `finished` recording how a provider call ended; `returning id` lets the statement count it. */
const finishing = (attempt: AttemptOutcome, now: Date): SQL =>
  sql`finished as (
        update payment.attempts set outcome = ${attempt.outcome}, detail = ${attempt.detail ?? null}, finished_at = ${iso(now)}
        where id = ${attempt.id}::uuid
        returning id)`;

/**
 * One row whatever happened: how many attempts `finished` recorded (the caller asserts 1) and the
 * intent CTE `result` returned, its columns all null when the guard let nothing through.
 */
const outcomeRow = sql`select (select count(*)::int from finished) as finished_attempts, r.*
  from (select 1) as one left join result r on true`;

/**
 * Inserts the intent with its first attempt, unless the idempotency key is taken: then answers the
 * stored intent (`created` false) and writes nothing. No row when the key was taken by a statement
 * that committed after this one's snapshot (a concurrent twin): the caller reads it again.
 */
export function createIntentStatement(intent: NewIntent & { status: PaymentStatus }, attempt: NewAttempt): SQL {
  return sql`
    with created as (
      insert into payment.intents (id, order_id, user_id, idempotency_key, request_hash, currency, amount, status, provider, created_at, updated_at)
      values (${intent.id}::uuid, ${intent.orderId}::uuid, ${intent.userId}::uuid, ${intent.idempotencyKey}, ${intent.requestHash}, ${intent.currency},
              ${intent.amount}::bigint, ${intent.status}, ${intent.provider}, ${iso(intent.createdAt ?? attempt.startedAt)}, ${iso(intent.updatedAt ?? attempt.startedAt)})
      on conflict (idempotency_key) do nothing
      returning *),
    attempt as (
      insert into payment.attempts (id, intent_id, operation, provider_key, request_key, attempt_no, started_at)
      select ${attempt.id}::uuid, c.id, ${attempt.operation}, ${attempt.providerKey}, ${attempt.requestKey}, 1, ${iso(attempt.startedAt)} from created c)
    select c.*, true as created from created c
    union all
    select i.*, false as created from payment.intents i where i.idempotency_key = ${intent.idempotencyKey} and not exists (select 1 from created)`;
}

/** Records a provider call before it is made (a re-drive of an authorization that never heard back). */
export function startAttemptStatement(attempt: NewAttempt): SQL {
  return sql`
    insert into payment.attempts (id, intent_id, operation, provider_key, request_key, attempt_no, started_at)
    values (${attempt.id}::uuid, ${attempt.intentId}::uuid, ${attempt.operation}, ${attempt.providerKey}, ${attempt.requestKey},
            ${nextAttemptNo(attempt.providerKey)}, ${iso(attempt.startedAt)})`;
}

/** Finishes a failed call and records the retry about to be made, in one statement. */
export function retryAttemptStatement(failed: AttemptOutcome, next: NewAttempt, now: Date): SQL {
  return sql`
    with ${finishing(failed, now)}
    insert into payment.attempts (id, intent_id, operation, provider_key, request_key, attempt_no, started_at)
    select ${next.id}::uuid, ${next.intentId}::uuid, ${next.operation}, ${next.providerKey}, ${next.requestKey},
           ${nextAttemptNo(next.providerKey)}, ${iso(next.startedAt)}
    from finished
    returning id`;
}

/** The attempt's outcome only (a call that ended in a bug, or a refund's failure). */
export function finishAttemptStatement(attempt: AttemptOutcome, now: Date): SQL {
  return sql`with ${finishing(attempt, now)} select id from finished`;
}

/**
 * The authorization's outcome on an intent nobody settled yet (PENDING without a provider
 * reference), with the attempt's; the intent is null when a webhook or a void settled it first.
 */
export function settleAuthorizationStatement(
  id: string,
  change: { status: PaymentStatus; providerRef: string | null; declineCode: string | null },
  attempt: AttemptOutcome,
  now: Date,
): SQL {
  return sql`
    with ${finishing(attempt, now)},
    result as (
      update payment.intents set status = ${change.status}, provider_ref = ${change.providerRef}, decline_code = ${change.declineCode}, updated_at = ${iso(now)}
      where id = ${id}::uuid and status = 'PENDING' and provider_ref is null
      returning *)
    ${outcomeRow}`;
}

/**
 * Takes the capture/void lease of an intent in one of `from` whose lease is free or expired, and
 * records the provider call the holder will make (when the intent has a provider reference to call
 * with). A capture also marks the intent as capturing (`capture_started_at`, never cleared), which
 * the unique index `intents_one_capture_claim_per_order` allows for one intent per order only: a
 * second intent of a captured or capturing order fails the statement. Unclaimed, the row is the
 * intent as this statement's snapshot saw it (none when there is no such intent).
 */
export function claimLeaseStatement(id: string, op: LeaseOp, from: readonly PaymentStatus[], requestKey: string, now: Date, until: Date, attempt: NewAttempt): SQL {
  const marks =
    op === 'capture'
      ? sql`capture_started_at = coalesce(capture_started_at, ${iso(now)}), capture_key = coalesce(capture_key, ${requestKey})`
      : sql`void_key = coalesce(void_key, ${requestKey})`;
  const statuses = sql.join(
    from.map((status) => sql`${status}`),
    sql`, `,
  );
  return sql`
    with current as (select * from payment.intents where id = ${id}::uuid),
    claimed as (
      update payment.intents set lease_op = ${op}, lease_until = ${iso(until)}, updated_at = ${iso(now)}, ${marks}
      where id = ${id}::uuid and status in (${statuses}) and (lease_until is null or lease_until < ${iso(now)})
      returning *),
    attempt as (
      insert into payment.attempts (id, intent_id, operation, provider_key, request_key, attempt_no, started_at)
      select ${attempt.id}::uuid, c.id, ${attempt.operation}, ${attempt.providerKey}, ${attempt.requestKey}, ${nextAttemptNo(attempt.providerKey)}, ${iso(attempt.startedAt)}
      from claimed c where c.provider_ref is not null
      returning id)
    select c.*, true as claimed, exists (select 1 from attempt) as attempted from claimed c
    union all
    select c.*, false as claimed, false as attempted from current c where not exists (select 1 from claimed)`;
}

/** Gives the lease back after a failed call, with the attempt's outcome: a retry may re-drive. */
export function releaseLeaseStatement(id: string, attempt: AttemptOutcome, now: Date): SQL {
  return sql`
    with ${finishing(attempt, now)},
    result as (update payment.intents set lease_op = null, lease_until = null, updated_at = ${iso(now)} where id = ${id}::uuid returning *)
    ${outcomeRow}`;
}

/** The active trace as the outbox's `trace_context` (null when tracing is off): the relay continues it. */
function traceContextJson(): string | null {
  const carrier = currentTraceCarrier();
  return carrier === undefined ? null : JSON.stringify(carrier);
}

/** A fact for the outbox, written by the statement that makes it true. */
export interface OutboxFact {
  id: string;
  type: string;
  key: string;
  occurredAt: string;
  payload: unknown;
}

/**
 * AUTHORIZED → CAPTURED (the full amount, lease released) with the attempt's outcome and the
 * captured fact, once: the intent is null when it was not AUTHORIZED any more, and then no fact.
 */
export function completeCaptureStatement(id: string, attempt: AttemptOutcome, fact: OutboxFact, now: Date): SQL {
  return sql`
    with ${finishing(attempt, now)},
    result as (
      update payment.intents set status = 'CAPTURED', captured_amount = amount, lease_op = null, lease_until = null, updated_at = ${iso(now)}
      where id = ${id}::uuid and status = 'AUTHORIZED'
      returning *),
    fact as (
      insert into payment.outbox (id, type, key, payload, occurred_at, trace_context)
      select ${fact.id}::uuid, ${fact.type}, ${fact.key}, ${JSON.stringify(fact.payload)}::jsonb, ${fact.occurredAt}::timestamptz, ${traceContextJson()}::jsonb from result
      on conflict (id) do nothing
      returning id)
    select (select count(*)::int from finished) as finished_attempts, (select count(*)::int from fact) as facts, r.*
    from (select 1) as one left join result r on true`;
}

/** AUTHORIZED or PENDING → VOIDED (lease released), with the attempt's outcome when the provider was called. */
export function completeVoidStatement(id: string, attempt: AttemptOutcome | undefined, now: Date): SQL {
  const finished = attempt === undefined ? sql`finished as (select null::uuid as id where false)` : finishing(attempt, now);
  return sql`
    with ${finished},
    result as (
      update payment.intents set status = 'VOIDED', lease_op = null, lease_until = null, updated_at = ${iso(now)}
      where id = ${id}::uuid and status in ('AUTHORIZED', 'PENDING')
      returning *)
    ${outcomeRow}`;
}
