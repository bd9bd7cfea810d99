import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import type { SQL } from 'drizzle-orm';

/** The drizzle handle every service store is written against; both adapters provide it. */
export type Db = PgDatabase<PgQueryResultHKT, Record<string, never>>;
export type Tx = PgTransaction<PgQueryResultHKT, Record<string, never>>;
/** Either the database or an open transaction: store functions accept both. */
export type Executor = Db | Tx;

export type StorageKind = 'postgres' | 'pglite';

/**
 * The storage port. One drizzle schema and one migration folder per service; each service keeps
 * its tables in its own PostgreSQL schema, on PostgreSQL (`pg`) or embedded PGlite alike.
 */
export interface Storage {
  readonly kind: StorageKind;
  readonly db: Db;
  /** Applies a service's migrations into its schema; safe when several processes start at once. */
  migrate(service: string, migrationsFolder: string): Promise<void>;
  /** Rows of a raw statement (for guarded updates, advisory locks, anything drizzle cannot say). */
  query<Row>(statement: SQL, executor?: Executor): Promise<Row[]>;
  /** Runs `work` in one transaction; any throw rolls it back. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function rowsOf<Row>(result: unknown): Row[] {
  if (typeof result === 'object' && result !== null && 'rows' in result && Array.isArray((result as { rows: unknown }).rows)) {
    return (result as { rows: Row[] }).rows;
  }
  throw new Error('unexpected driver result: no rows array');
}

/** PostgreSQL error codes the stores turn into domain errors. */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_CHECK_VIOLATION = '23514';
export const PG_SERIALIZATION_FAILURE = '40001';
export const PG_DEADLOCK = '40P01';

/** The SQLSTATE of a driver error (pg and PGlite both expose `code`), also through drizzle's wrapper. */
export function pgErrorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The name of the constraint a driver error (pg or PGlite, also through drizzle's wrapper) violated. */
export function pgConstraint(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const constraint = (current as { constraint?: unknown }).constraint;
    if (typeof constraint === 'string') return constraint;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A stable 32-bit key for `pg_advisory_lock` derived from a name. */
export function advisoryKey(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}

/**
 * Each service's applied migrations are tracked in its own table of one shared bookkeeping schema.
 * Not in the service's schema: its first migration creates that schema.
 */
export const MIGRATIONS_SCHEMA = 'agora_migrations';

export function migrationConfig(service: string, migrationsFolder: string): { migrationsFolder: string; migrationsSchema: string; migrationsTable: string } {
  if (!/^[a-z][a-z0-9_]*$/.test(service)) throw new Error(`service name must be a lowercase identifier, got "${service}"`);
  return { migrationsFolder, migrationsSchema: MIGRATIONS_SCHEMA, migrationsTable: service };
}
