import { mkdirSync } from 'node:fs';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { sql, type SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { migrationConfig, rowsOf, type Db, type Executor, type Storage, type Tx } from './storage.js';

/**
 * PostgreSQL extensions a service's migrations may CREATE: PGlite ships them as separate modules
 * that must be loaded when the instance starts (real PostgreSQL has them in its contrib).
 * pg_trgm: the catalog's typo-tolerant search.
 */
const EXTENSIONS: PGliteOptions['extensions'] = { pg_trgm };

/**
 * Embedded PostgreSQL (PGlite) for the zero-setup `npm start`. One instance serves every service
 * (each in its own schema): PGlite is heavy and single-connection, so queries and transactions are
 * serialized and locks never contend — concurrency guarantees are proven on real PostgreSQL.
 */
export class PgliteStorage implements Storage {
  readonly kind = 'pglite' as const;
  readonly db: Db;
  private closed = false;

  private constructor(private readonly client: PGlite) {
    this.db = drizzle({ client }) as unknown as Db;
  }

  /** `dataDir` undefined keeps everything in memory (tests). */
  static async open(dataDir?: string): Promise<PgliteStorage> {
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    const client = dataDir ? new PGlite(dataDir, { extensions: EXTENSIONS }) : new PGlite({ extensions: EXTENSIONS });
    await client.waitReady;
    return new PgliteStorage(client);
  }

  /**
   * A data directory filled from PGlite's own dump ({@link dumpDataDir}): `agora restore` of the
   * embedded database. The directory must be empty (PGlite unpacks the dump into it).
   */
  static async openFromDump(dataDir: string, dump: Uint8Array): Promise<PgliteStorage> {
    mkdirSync(dataDir, { recursive: true });
    const client = new PGlite({ dataDir, loadDataDir: new Blob([dump]), extensions: EXTENSIONS });
    await client.waitReady;
    return new PgliteStorage(client);
  }

  /**
   * PGlite's own dump of the whole data directory (a gzipped tarball), consistent because PGlite
   * is one connection in one process: no other writer can run while it dumps.
   */
  async dumpDataDir(): Promise<Uint8Array> {
    const blob = await this.client.dumpDataDir('gzip');
    return new Uint8Array(await blob.arrayBuffer());
  }

  async migrate(service: string, migrationsFolder: string): Promise<void> {
    await migrate(drizzle({ client: this.client }), migrationConfig(service, migrationsFolder));
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
    await this.client.close();
  }
}
