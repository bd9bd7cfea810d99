import { createHash } from 'node:crypto';
import pg from 'pg';
import { sql, type SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { NodePgSession, NodePgTransaction } from 'drizzle-orm/node-postgres/session';
import { advisoryKey, migrationConfig, rowsOf, type Db, type Executor, type Storage, type Tx } from './storage.js';
import { tracePgPool } from './tracing.js';

export interface PostgresOptions {
  url: string;
  poolMax?: number;
  /** How long a query may wait for a free connection before failing. */
  connectionTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** Run raw statements with parameters as named prepared statements (default true; see `query`). */
  namedStatements?: boolean;
}

export class PostgresStorage implements Storage {
  readonly kind = 'postgres' as const;
  readonly db: Db;
  private readonly pool: pg.Pool;
  private closed = false;
  private readonly names: StatementNames | undefined;

  constructor(private readonly options: PostgresOptions) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolMax ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
    });
    // An idle client losing its server must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
    // Nor a checked-out one (in a transaction, between statements: a PostgreSQL or PgBouncer
    // restart): node-postgres emits 'error' on the client itself, which kills Node without a
    // listener. Its pending or next statement fails instead, and the pool drops it on release.
    this.pool.on('connect', (client) => client.on('error', () => undefined));
    tracePgPool(this.pool, databaseName(options.url));
    this.db = drizzle({ client: this.pool }) as unknown as Db;
    this.names = options.namedStatements === false ? undefined : new StatementNames();
  }

  async migrate(service: string, migrationsFolder: string): Promise<void> {
    // One transaction-scoped advisory lock for all migrations: instances (and services) starting
    // together take turns, so even `create schema if not exists` never races. Transaction-scoped,
    // not a session lock, so it also holds through PgBouncer in transaction pooling (a session lock
    // would stay behind on whichever server connection took it). drizzle's migrator opens its own
    // transaction inside ours (PostgreSQL warns and carries on) and its COMMIT ends both, lock included.
    const client = new pg.Client({ connectionString: this.options.url });
    // The server going away mid-migration (a restart, a failover) is an 'error' event on the
    // client, which kills Node unheard; the pending statement fails instead and the start fails cleanly.
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query('begin');
      await client.query('select pg_advisory_xact_lock($1)', [advisoryKey('agora:migrate')]);
      await migrate(drizzle({ client }), migrationConfig(service, migrationsFolder));
    } finally {
      // Ended already by the migrator's COMMIT or ROLLBACK; this only matters if it failed before its own.
      await client.query('rollback').catch(() => undefined);
      await client.end();
    }
  }

  /**
   * Runs a raw statement as a NAMED prepared statement when it has parameters: PostgreSQL parses
   * and plans each distinct text once per connection, then only binds and executes it. (A
   * statement without parameters may hold several commands, which only the simple protocol
   * takes: it runs unnamed.) Same rows as drizzle's `execute`, whose own preparation this uses.
   */
  async query<Row>(statement: SQL, executor: Executor = this.db): Promise<Row[]> {
    const internals = executor as unknown as DrizzleInternals;
    const query = internals.dialect.sqlToQuery(statement);
    const name = query.params.length === 0 ? undefined : this.names?.of(query.sql);
    if (name === undefined) return rowsOf<Row>(await executor.execute(statement));
    return rowsOf<Row>(await internals.session.prepareQuery(query, undefined, name, false).execute());
  }

  /**
   * BEGIN, `work`, COMMIT on one pooled connection — released whatever happens. (drizzle's own
   * `transaction` sends BEGIN before its try/finally: a connection that died between the pool
   * handing it out and BEGIN — a restart, a failover, a terminated backend — was never released,
   * so the pool shrank for good and `close()` waited forever.) A connection whose BEGIN, COMMIT or
   * ROLLBACK failed is destroyed, not returned; the error `work` threw is the one rethrown.
   */
  async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const pooled = (this.db as unknown as { session: DrizzleSessionParts }).session;
    const session = new NodePgSession(client, pooled.dialect, pooled.schema, pooled.options);
    const tx = new NodePgTransaction(pooled.dialect, session, pooled.schema);
    try {
      await client.query('begin');
    } catch (err) {
      client.release(asError(err));
      throw err;
    }
    let result: T;
    try {
      result = await work(tx as unknown as Tx);
    } catch (err) {
      try {
        await client.query('rollback');
        client.release();
      } catch (rollbackFailed) {
        client.release(asError(rollbackFailed));
      }
      throw err;
    }
    try {
      await client.query('commit');
    } catch (err) {
      client.release(asError(err));
      throw err;
    }
    client.release();
    return result;
  }

  async ping(): Promise<void> {
    await this.db.execute(sql`select 1`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** The pool's connections now (for `agora_db_pool_*`, read at scrape time). */
  poolStats(): { max: number; total: number; idle: number; waiting: number } {
    return { max: this.pool.options.max ?? 0, total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }
}

/** The database a connection URL names (a span's `db.namespace`); undefined when it names none. */
function databaseName(url: string): string | undefined {
  try {
    const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
    return name === '' ? undefined : name;
  } catch {
    return undefined;
  }
}

/** What a transaction's session is built from: the pool session's parts (internal API of the pinned drizzle-orm 0.45 line). */
interface DrizzleSessionParts {
  dialect: ConstructorParameters<typeof NodePgSession>[1];
  schema: ConstructorParameters<typeof NodePgSession>[2];
  options: ConstructorParameters<typeof NodePgSession>[3];
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/**
 * drizzle's handles behind `execute` (internal API of the pinned drizzle-orm 0.45 line): its SQL
 * renderer and the session that prepares a query under a name.
 */
interface DrizzleInternals {
  dialect: { sqlToQuery(statement: SQL): { sql: string; params: unknown[] } };
  session: {
    prepareQuery(query: { sql: string; params: unknown[] }, fields: undefined, name: string, arrayMode: false): { execute(): Promise<unknown> };
  };
}

/**
 * A short stable name per statement text (a hash, so two texts never share one: pg refuses a
 * name reused for another text). Each connection keeps every statement it prepared, so the number
 * of distinct texts is bounded: past the limit, texts run unnamed rather than grow every cache.
 */
class StatementNames {
  private readonly byText = new Map<string, string>();

  of(text: string): string | undefined {
    const known = this.byText.get(text);
    if (known !== undefined) return known;
    if (this.byText.size >= PREPARED_STATEMENTS_MAX) return undefined;
    const name = `agora_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`;
    this.byText.set(text, name);
    return name;
  }
}

/** Distinct prepared statements per process (and so per connection): the hot paths use a few dozen. */
const PREPARED_STATEMENTS_MAX = 2_000;

/**
 * A cluster's share of one PostgreSQL server's connections. Every process keeps a pool, and the
 * pools together must stay under `max_connections` minus what the server reserves for superusers
 * (and, from PostgreSQL 16, for `pg_use_reserved_connections`) — past it the server answers
 * "sorry, too many clients already" (53300) to whoever connects next. `agora cluster` reads the
 * server's limits and gives each process `floor(budget / processes)` (docs/operations.md).
 */
export const CONNECTION_BUDGET = {
  /**
   * Kept out of every pool: psql sessions, `agora migrate` or `agora admin` run beside a live
   * cluster, test suites, a monitoring agent, and each process's own migration connection at start.
   */
  marginConnections: 10,
  /** The least a pool needs: a transaction and a background loop (an outbox relay, recovery) at once. */
  minPoolMax: 2,
} as const;

export interface ServerConnectionLimits {
  maxConnections: number;
  /** superuser_reserved_connections + reserved_connections (16+): never available to an ordinary role. */
  reservedConnections: number;
}

/** The server's connection limits, read over one short-lived connection. */
export async function readConnectionLimits(url: string): Promise<ServerConnectionLimits> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined); // a lost server fails the query below, not the process
  await client.connect();
  try {
    const { rows } = await client.query<{ max: number; reserved: number }>(
      `select current_setting('max_connections')::int as max,
              current_setting('superuser_reserved_connections')::int
                + coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int as reserved`,
    );
    const [row] = rows;
    if (!row) throw new Error('the server did not report its connection limits');
    return { maxConnections: Number(row.max), reservedConnections: Number(row.reserved) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** How a cluster's service processes share the server: what `agora cluster` and the process cluster of tests and benchmarks apply. */
export interface PoolDivision {
  /** Connections per service process's pool. */
  poolMax: number;
  /** `operator`: AGORA_DB_POOL_MAX was set and wins; `budget`: the budget's share. */
  source: 'operator' | 'budget';
  /** Connections the pools may hold together (the server's budget, or the owner's share of it). */
  budget: number;
  pools: number;
  /** pools x poolMax stays within the budget (always, unless the operator's size does not). */
  fits: boolean;
}

export interface PoolDivisionOptions {
  /** AGORA_DB_POOL_MAX when the operator set it (behind PgBouncer the server-side sum is PgBouncer's). */
  operatorPoolMax?: number;
  /** The most connections this cluster may take in all, for a cluster sharing the server with others (tests). */
  shareConnections?: number;
}

/**
 * The one rule for a cluster's pools (docs/operations.md, "The budget"): the operator's
 * AGORA_DB_POOL_MAX when set, else `floor(budget / pools)` where the budget is max_connections
 * minus the reserved connections and the margin — or the owner's share of it, when smaller.
 */
export function dividePoolBudget(limits: ServerConnectionLimits, pools: number, options: PoolDivisionOptions = {}): PoolDivision {
  const serverBudget = limits.maxConnections - limits.reservedConnections - CONNECTION_BUDGET.marginConnections;
  const share = options.shareConnections;
  if (share !== undefined && (!Number.isSafeInteger(share) || share < 1)) throw new Error(`shareConnections must be an integer >= 1, got ${share}`);
  if (options.operatorPoolMax !== undefined) {
    const budget = Math.min(serverBudget, share ?? serverBudget);
    return { poolMax: options.operatorPoolMax, source: 'operator', budget, pools, fits: options.operatorPoolMax * pools <= budget };
  }
  // A share smaller than the server's budget is the same rule on a smaller server.
  const margin = share === undefined || share >= serverBudget ? CONNECTION_BUDGET.marginConnections : limits.maxConnections - limits.reservedConnections - share;
  const { poolMax, budget } = poolMaxWithinBudget(limits, pools, margin);
  return { poolMax, source: 'budget', budget, pools, fits: true };
}

/** Each of `pools` pools' size within the server's budget; throws when even the smallest pools do not fit. */
export function poolMaxWithinBudget(limits: ServerConnectionLimits, pools: number, marginConnections: number = CONNECTION_BUDGET.marginConnections): { poolMax: number; budget: number } {
  if (!Number.isSafeInteger(pools) || pools < 1) throw new Error(`pools must be an integer >= 1, got ${pools}`);
  const budget = limits.maxConnections - limits.reservedConnections - marginConnections;
  const poolMax = Math.floor(budget / pools);
  if (poolMax < CONNECTION_BUDGET.minPoolMax) {
    throw new Error(
      `PostgreSQL allows ${limits.maxConnections} connections (${limits.reservedConnections} reserved, ${marginConnections} kept as margin): ` +
        `${budget} for ${pools} pools is fewer than ${CONNECTION_BUDGET.minPoolMax} each; raise max_connections, run fewer processes, or put PgBouncer in front (docs/operations.md)`,
    );
  }
  return { poolMax, budget };
}
