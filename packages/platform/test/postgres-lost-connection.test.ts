import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { PostgresStorage } from '../src/index.js';
import { createTestDatabase, postgresBackend } from '../src/testing/index.js';

/**
 * A connection the server drops while it is checked out of the pool (in a transaction, between
 * two statements) — what a PostgreSQL restart or a PgBouncer restart does to a busy service —
 * fails that transaction, not the process: node-postgres emits 'error' on such a client, and an
 * 'error' event without a listener kills Node. `agora chaos` found this (every service process
 * exited on a PostgreSQL restart).
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(await postgresBackend.available())('PostgreSQL storage losing a checked-out connection', () => {
  let database: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    database = await createTestDatabase('agora_lost');
  });
  afterAll(async () => database?.drop());

  it('fails the transaction, keeps the process alive and serves the next query on a new connection', async () => {
    const storage = new PostgresStorage({ url: database.url, poolMax: 1 });
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const outcome = await storage
        .transaction(async (tx) => {
          const [row] = await storage.query<{ pid: number }>(sql`select pg_backend_pid() as pid`, tx);
          await admin.query('select pg_terminate_backend($1)', [row?.pid]);
          // Idle in the transaction while the server's goodbye arrives: the client alone hears it.
          await sleep(500);
          await storage.query(sql`select 1`, tx);
        })
        .then(
          () => 'committed',
          () => 'failed',
        );
      expect(outcome).toBe('failed');
      expect(uncaught).toEqual([]);
      expect(await storage.query<{ one: number }>(sql`select 1 as one`)).toEqual([{ one: 1 }]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await admin.end();
      await storage.close();
    }
  });
});
