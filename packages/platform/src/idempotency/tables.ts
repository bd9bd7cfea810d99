import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, primaryKey, text, timestamp, type PgSchema } from 'drizzle-orm/pg-core';

/**
 * Idempotency records, as a drizzle table in the *using service's* schema:
 * `export const idempotencyKeys = idempotencyTable(orderSchema);` in the service's store/schema.ts.
 * One row per (scope, key): IN_PROGRESS while the first request runs (owned by `owner`), then
 * COMPLETED with the response every replay gets.
 */
export function idempotencyTable(schema: PgSchema) {
  return schema.table(
    'idempotency_keys',
    {
      /** Who may reuse the key, e.g. `${userId}:POST /api/v1/checkout`. */
      scope: text('scope').notNull(),
      key: text('key').notNull(),
      /** sha256 of the canonical request body: the same key with another body is refused. */
      requestHash: text('request_hash').notNull(),
      status: text('status').notNull(),
      /** A random token of the request executing the key; completing is fenced on it. */
      owner: text('owner').notNull(),
      responseStatus: integer('response_status'),
      responseBody: jsonb('response_body'),
      /** When the current owner took the key; an IN_PROGRESS row older than the lock timeout may be taken over. */
      lockedAt: timestamp('locked_at', { withTimezone: true, mode: 'date' }).notNull(),
      createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
      completedAt: timestamp('completed_at', { withTimezone: true, mode: 'date' }),
    },
    (t) => [
      primaryKey({ columns: [t.scope, t.key] }),
      index('idempotency_keys_created_at_idx').on(t.createdAt),
      check('idempotency_keys_status_check', sql`"status" in ('IN_PROGRESS', 'COMPLETED')`),
      check(
        'idempotency_keys_response_check',
        sql`("status" = 'IN_PROGRESS') = ("response_status" is null)`,
      ),
    ],
  );
}
