import { sql, type SQL } from 'drizzle-orm';
import { bigint, check, text, timestamp, type PgSchema } from 'drizzle-orm/pg-core';
import type { Storage } from '../storage/storage.js';
import type { Logger } from '../telemetry/logger.js';
import type { FencingToken } from './lock.js';
import { LeaseLockManager, type LeaseStore } from './lease.js';

/**
 * The lease table in the *using service's* schema: `export const lockLeases = lockLeasesTable(orderSchema);`
 * in its store/schema.ts, so drizzle-kit generates the migration. One row per lock name, kept after
 * release: its `token` is the counter the next holder's token is drawn from.
 */
export function lockLeasesTable<S extends string>(schema: PgSchema<S>) {
  return schema.table(
    'lock_leases',
    {
      name: text('name').primaryKey(),
      token: bigint('token', { mode: 'bigint' }).notNull(),
      /** The holder's random id; null once released. */
      owner: text('owner'),
      /** By the database's clock; the lease is free from this instant on. */
      expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    },
    () => [check('lock_leases_token_check', sql`"token" > 0`)],
  );
}

export interface PostgresLocksOptions {
  storage: Storage;
  /** The schema holding `lock_leases` (see {@link lockLeasesTable}). */
  schema: string;
  logger: Logger;
}

const SCHEMA_NAME = /^[a-z][a-z0-9_]*$/;

/** `<schema>.<table>` for one of the locking tables, refusing a schema that is not a plain identifier. */
export function lockingTable(schema: string, table: 'lock_leases' | 'fencing_tokens'): SQL {
  if (!SCHEMA_NAME.test(schema)) throw new RangeError(`locking schema must be a lowercase identifier, got "${schema}"`);
  return sql`${sql.identifier(schema)}.${sql.identifier(table)}`;
}

/**
 * Leases as rows, on PostgreSQL or PGlite. Not an advisory lock: a session lock has no expiry, so
 * a paused holder whose connection stays open would hold it forever, and a transaction pooler
 * (PgBouncer) cannot keep one at all. A row lease expires by the database's one clock, survives a
 * restart of the database with its counter, and needs no connection held between calls. Each call
 * is one autocommit statement; concurrent takers serialize on the row (ON CONFLICT DO UPDATE
 * locks it and re-checks the WHERE against the latest version), so exactly one wins.
 */
export class PostgresLeaseStore implements LeaseStore {
  private readonly table: SQL;

  constructor(private readonly options: Pick<PostgresLocksOptions, 'storage' | 'schema'>) {
    this.table = lockingTable(options.schema, 'lock_leases');
  }

  async take(name: string, owner: string, leaseMs: number): Promise<FencingToken | undefined> {
    // A free row (expired or released) or our own (a retried attempt) is taken with the next
    // token; a row held by another owner is locked, left as is, and returns nothing.
    const rows = await this.options.storage.query<{ token: string | bigint }>(sql`
      insert into ${this.table} as l (name, token, owner, expires_at)
      values (${name}, 1, ${owner}, statement_timestamp() + ${leaseMs}::int * interval '1 millisecond')
      on conflict (name) do update
        set token = l.token + 1, owner = excluded.owner, expires_at = excluded.expires_at
        where l.owner is null or l.expires_at <= statement_timestamp() or l.owner = excluded.owner
      returning l.token`);
    const token = rows[0]?.token;
    return token === undefined ? undefined : BigInt(token);
  }

  async renew(name: string, owner: string, token: FencingToken, leaseMs: number): Promise<boolean> {
    return this.updateHeld(name, owner, token, sql`expires_at = statement_timestamp() + ${leaseMs}::int * interval '1 millisecond'`);
  }

  async drop(name: string, owner: string, token: FencingToken): Promise<boolean> {
    return this.updateHeld(name, owner, token, sql`owner = null, expires_at = statement_timestamp()`);
  }

  /** The storage belongs to the caller. */
  async close(): Promise<void> {}

  /** Applies `set` to the row only while `owner` holds it with `token` and the lease runs. */
  private async updateHeld(name: string, owner: string, token: FencingToken, set: SQL): Promise<boolean> {
    const rows = await this.options.storage.query<{ name: string }>(sql`
      update ${this.table} set ${set}
      where name = ${name} and owner = ${owner} and token = ${token.toString()}::bigint and expires_at > statement_timestamp()
      returning name`);
    return rows.length === 1;
  }
}

/** A lock manager over lease rows in `schema` of `storage` (PostgreSQL in the cluster, PGlite embedded). */
export function postgresLocks(options: PostgresLocksOptions): LeaseLockManager {
  return new LeaseLockManager(new PostgresLeaseStore(options), { logger: options.logger });
}
