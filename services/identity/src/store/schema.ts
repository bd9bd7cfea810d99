import { sql } from 'drizzle-orm';
import { check, index, integer, pgSchema, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

export const identitySchema = pgSchema('identity');

/**
 * Accounts. `email` is always stored normalised (trimmed, lower-case), so the unique index is what
 * makes e-mails case-insensitively unique, also under concurrent registrations.
 */
export const users = identitySchema.table(
  'users',
  {
    id: uuid('id').primaryKey(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    role: text('role', { enum: ['customer', 'admin'] }).notNull().default('customer'),
    passwordHash: text('password_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [uniqueIndex('users_email_key').on(t.email), check('users_role_known', sql`${t.role} in ('customer', 'admin')`)],
);

/** Failed logins per normalised e-mail in the current window; shared by every instance. */
export const loginFailures = identitySchema.table(
  'login_failures',
  {
    email: text('email').primaryKey(),
    failures: integer('failures').notNull(),
    windowStartedAt: timestamp('window_started_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('login_failures_window_started_at_idx').on(t.windowStartedAt), check('login_failures_positive', sql`${t.failures} > 0`)],
);
