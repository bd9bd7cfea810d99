import pg from 'pg';
import { sql, type SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { advisoryKey, migrationConfig, rowsOf, type Db, type Executor, type Storage, type Tx } from './storage.js';

export interface PostgresOptions {
  url: string;
  poolMax?: number;
  /** How long a query may wait for a free connection before failing. */
  connectionTimeoutMs?: number;
  statementTimeoutMs?: number;
}

export class PostgresStorage implements Storage {
  readonly kind = 'postgres' as const;
  readonly db: Db;
  private readonly pool: pg.Pool;
  private closed = false;

  constructor(private readonly options: PostgresOptions) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolMax ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
    });
    // An idle client losing its server must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
    this.db = drizzle({ client: this.pool }) as unknown as Db;
  }

  async migrate(service: string, migrationsFolder: string): Promise<void> {
    // A dedicated connection holds one advisory lock for all migrations: instances (and services)
    // starting together take turns, so even `create schema if not exists` never races.
    const client = new pg.Client({ connectionString: this.options.url });
    await client.connect();
    try {
      await client.query('select pg_advisory_lock($1)', [advisoryKey('agora:migrate')]);
      await migrate(drizzle({ client }), migrationConfig(service, migrationsFolder));
    } finally {
      await client.query('select pg_advisory_unlock_all()').catch(() => undefined);
      await client.end();
    }
  }

  async query<Row>(statement: SQL, executor: Executor = this.db): Promise<Row[]> {
    return rowsOf<Row>(await executor.execute(statement));
  }

  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => work(tx as unknown as Tx));
  }

  async ping(): Promise<void> {
    await this.db.execute(sql`select 1`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
