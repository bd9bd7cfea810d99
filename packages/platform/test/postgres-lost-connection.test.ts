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

  it('releases a connection that died before BEGIN: a pool of one serves the next transaction, and closes', async () => {
    const storage = new PostgresStorage({ url: database.url, poolMax: 1, connectionTimeoutMs: 2_000 });
    const pool = (storage as unknown as { pool: pg.Pool }).pool;
    const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
    let sabotage = true;
    // The one connection dies between the pool handing it out and BEGIN (a restart, a failover).
    (pool as unknown as { connect: () => Promise<pg.PoolClient> }).connect = async () => {
      const client = await connect();
      if (sabotage) {
        sabotage = false;
        (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      }
      return client;
    };
    try {
      await expect(storage.transaction(async (tx) => storage.query(sql`select 1`, tx))).rejects.toThrow();
      // Leaked, the pool's only slot would stay taken: this would wait out the connection timeout and fail.
      expect(await storage.transaction(async (tx) => storage.query<{ one: number }>(sql`select 1 as one`, tx))).toEqual([{ one: 1 }]);
    } finally {
      await storage.close();
    }
  });

  it('rethrows what the work threw, rolls it back and keeps the connection', async () => {
    const storage = new PostgresStorage({ url: database.url, poolMax: 1 });
    try {
      await storage.query(sql`create table if not exists lost_probe (id int primary key)`);
      const thrown = new Error('the work refused');
      await expect(
        storage.transaction(async (tx) => {
          await storage.query(sql`insert into lost_probe values (1)`, tx);
          throw thrown;
        }),
      ).rejects.toBe(thrown);
      expect(await storage.query(sql`select id from lost_probe`)).toEqual([]);
      const [before] = await storage.query<{ pid: number }>(sql`select pg_backend_pid() as pid`);
      await storage.transaction(async (tx) => storage.query(sql`insert into lost_probe values (2)`, tx));
      const [after] = await storage.query<{ pid: number }>(sql`select pg_backend_pid() as pid`);
      expect(after?.pid).toBe(before?.pid);
      expect(await storage.query(sql`select id from lost_probe`)).toEqual([{ id: 2 }]);
    } finally {
      await storage.close();
    }
  });
});
