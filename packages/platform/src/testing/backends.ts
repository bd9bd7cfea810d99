import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { PgliteStorage } from '../storage/pglite.js';
import { PostgresStorage } from '../storage/postgres.js';
import type { Storage, StorageKind } from '../storage/storage.js';

/**
 * Test backends. Every storage-touching suite runs once per backend: embedded PGlite always, real
 * PostgreSQL when it answers. With AGORA_REQUIRE_SERVICES=1 (CI) a PostgreSQL that does not answer
 * fails the run instead of skipping.
 */
export const TEST_POSTGRES_URL = process.env.AGORA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const servicesRequired = (): boolean => process.env.AGORA_REQUIRE_SERVICES === '1';

let postgresReachable: Promise<boolean> | undefined;

export function isPostgresReachable(): Promise<boolean> {
  postgresReachable ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return postgresReachable;
}

/** Creates a fresh, uniquely named database on the test server and returns its URL. */
export async function createTestDatabase(prefix = 'agora_test'): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

export interface TestBackend {
  kind: StorageKind;
  /** Whether this backend can run here; false only when PostgreSQL is down and not required. */
  available(): Promise<boolean>;
  /** A fresh, empty storage; `release` closes it and drops what it made. */
  open(): Promise<{ storage: Storage; url?: string; release(): Promise<void> }>;
}

export const pgliteBackend: TestBackend = {
  kind: 'pglite',
  available: async () => true,
  async open() {
    const storage = await PgliteStorage.open();
    return { storage, release: () => storage.close() };
  },
};

export const postgresBackend: TestBackend = {
  kind: 'postgres',
  async available() {
    const reachable = await isPostgresReachable();
    if (!reachable && servicesRequired()) {
      throw new Error(`AGORA_REQUIRE_SERVICES=1 but PostgreSQL at ${TEST_POSTGRES_URL} does not answer`);
    }
    return reachable;
  },
  async open() {
    const database = await createTestDatabase();
    const storage = new PostgresStorage({ url: database.url, poolMax: 20 });
    return {
      storage,
      url: database.url,
      async release() {
        await storage.close();
        await database.drop();
      },
    };
  },
};

export const testBackends: readonly TestBackend[] = [pgliteBackend, postgresBackend];
