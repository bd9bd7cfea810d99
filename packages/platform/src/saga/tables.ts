import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, primaryKey, text, timestamp, uuid, type PgSchema } from 'drizzle-orm/pg-core';

/**
 * The saga log, as drizzle tables in the *using service's* schema: each service generates the
 * migration from its own store/schema.ts, e.g. `export const { sagas, sagaSteps } = sagaTables(orderSchema);`.
 *
 * `sagas` holds one row per saga instance: where it is (`status`, `current_step`), what it has
 * learned (`state`: results of completed steps, the failure), and who drives it (`lease_owner`
 * until `lease_until`). `saga_steps` is the step log: one row per (step, phase) of a bracketed
 * step, written STARTED before it runs and DONE (or FAILED) after, each in its own committed
 * transaction; replayed and local steps have a row only if they waited or failed (definition.ts).
 */
export function sagaTables(schema: PgSchema) {
  const sagas = schema.table(
    'sagas',
    {
      id: uuid('id').primaryKey(),
      name: text('name').notNull(),
      status: text('status').notNull(),
      input: jsonb('input').notNull(),
      /** `{ results: { [step]: json }, failure?, compensationError?, waitingFor? }`; written only by the lease holder. */
      state: jsonb('state').notNull(),
      /** Signals delivered by `resume`, by step name; written by anyone, so kept apart from `state`. */
      signals: jsonb('signals').notNull().default(sql`'{}'::jsonb`),
      /** RUNNING: next step to run; COMPENSATING: next step to compensate (counts down to -1). */
      currentStep: integer('current_step').notNull().default(0),
      /** How many times an instance has claimed this saga (start, resume, recovery): a crash loop shows here. */
      attempts: integer('attempts').notNull().default(0),
      leaseOwner: text('lease_owner'),
      leaseUntil: timestamp('lease_until', { withTimezone: true, mode: 'date' }),
      /** WAITING: after this instant recovery compensates the saga (timeout); null waits forever. */
      waitUntil: timestamp('wait_until', { withTimezone: true, mode: 'date' }),
      /** When the definition's onFinished ran; null on a terminal saga means recovery must still run it. */
      finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
      createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
      updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
    },
    (t) => [
      index('sagas_status_lease_until_idx').on(t.status, t.leaseUntil),
      // Recovery looks only at unfinished sagas: a small, partial index instead of a scan of every saga ever run.
      index('sagas_unfinished_idx').on(t.updatedAt).where(sql`${t.finishedAt} is null`),
      check('sagas_status_check', sql`"status" in ('RUNNING', 'WAITING', 'COMPENSATING', 'COMPLETED', 'COMPENSATED', 'FAILED')`),
      check('sagas_attempts_check', sql`"attempts" >= 0`),
    ],
  );

  const sagaSteps = schema.table(
    'saga_steps',
    {
      sagaId: uuid('saga_id')
        .notNull()
        .references(() => sagas.id, { onDelete: 'cascade' }),
      step: text('step').notNull(),
      phase: text('phase').notNull(),
      /** Index of the step in the definition, for reading the log in order. */
      position: integer('position').notNull(),
      status: text('status').notNull(),
      /** Tries of this (step, phase), counted when STARTED is written, so crash loops are bounded too. */
      attempts: integer('attempts').notNull().default(0),
      result: jsonb('result'),
      /** The last error, also while the step is being retried. */
      error: text('error'),
      startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull(),
      finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
    },
    (t) => [
      primaryKey({ columns: [t.sagaId, t.step, t.phase] }),
      check('saga_steps_phase_check', sql`"phase" in ('run', 'compensate')`),
      check('saga_steps_status_check', sql`"status" in ('STARTED', 'WAITING', 'DONE', 'FAILED')`),
    ],
  );

  return { sagas, sagaSteps };
}
