import { sql } from 'drizzle-orm';
import { pgSchema } from 'drizzle-orm/pg-core';
import { generateDrizzleJson, generateMigration } from 'drizzle-kit/api';
import {
  InMemoryLeaseStore,
  LeaseLockManager,
  PostgresStorage,
  connectRedisLocks,
  createLogger,
  fencedTransaction,
  fencingTokensTable,
  lockLeasesTable,
  postgresLocks,
  type LockManager,
  type Storage,
} from '../../src/index.js';
import { TEST_REDIS_URL, createTestDatabase, deleteRedisKeys, postgresBackend, redisAvailable, uniqueRedisPrefix } from '../../src/testing/index.js';

export const logger = createLogger('locking-test', 'silent');

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let schemaCounter = 0;

/** A fresh schema with `lock_leases` and `fencing_tokens`, created by the very SQL drizzle-kit generates for them. */
export async function createLockingSchema(storage: Storage): Promise<string> {
  const name = `locking_test_${process.pid}_${++schemaCounter}`;
  const schema = pgSchema(name);
  const tables = { schema, lockLeases: lockLeasesTable(schema), fencingTokens: fencingTokensTable(schema) };
  const statements = await generateMigration(generateDrizzleJson({}), generateDrizzleJson(tables));
  for (const statement of statements) await storage.query(sql.raw(statement));
  return name;
}

/** Clients of one lock store: each `client()` is what another process would have (its own connection). */
export interface OpenedLocks {
  client(): Promise<LockManager>;
  release(): Promise<void>;
}

export interface LockAdapter {
  name: string;
  available(): Promise<boolean>;
  open(): Promise<OpenedLocks>;
}

/** Connections per PostgreSQL client: small, since other suites share the server. */
const PG_CLIENT_POOL = 2;

export const lockAdapters: LockAdapter[] = [
  {
    name: 'in-memory',
    available: async () => true,
    async open() {
      const store = new InMemoryLeaseStore();
      const clients: LockManager[] = [];
      return {
        async client() {
          const client = new LeaseLockManager(store, { logger });
          clients.push(client);
          return client;
        },
        release: async () => void (await Promise.all(clients.map((c) => c.close()))),
      };
    },
  },
  {
    name: 'redis',
    available: redisAvailable,
    async open() {
      const keyPrefix = uniqueRedisPrefix('agora_test_locks');
      const clients: LockManager[] = [];
      return {
        async client() {
          const client = await connectRedisLocks({ url: TEST_REDIS_URL, logger, keyPrefix });
          clients.push(client);
          return client;
        },
        async release() {
          await Promise.all(clients.map((c) => c.close()));
          await deleteRedisKeys(keyPrefix);
        },
      };
    },
  },
  {
    name: 'postgresql',
    available: () => postgresBackend.available(),
    async open() {
      const database = await createTestDatabase('agora_test_locks');
      const admin = new PostgresStorage({ url: database.url, poolMax: 1 });
      const schema = await createLockingSchema(admin);
      const storages: Storage[] = [admin];
      const clients: LockManager[] = [];
      return {
        async client() {
          const storage = new PostgresStorage({ url: database.url, poolMax: PG_CLIENT_POOL });
          storages.push(storage);
          const client = postgresLocks({ storage, schema, logger });
          clients.push(client);
          return client;
        },
        async release() {
          await Promise.all(clients.map((c) => c.close()));
          await Promise.all(storages.map((s) => s.close()));
          await database.drop();
        },
      };
    },
  },
];

/** A fenced resource (a stand-in for the shard map): one row per resource, and a log of every write it accepted, in commit order. */
export async function createShardMap(storage: Storage, schema: string): Promise<void> {
  await storage.query(sql.raw(`create table ${schema}.shard_map (resource text primary key, owner text not null, token bigint not null)`));
  await storage.query(sql.raw(`create table ${schema}.shard_map_log (seq bigserial primary key, resource text not null, token bigint not null)`));
}

export async function writeShardMap(storage: Storage, schema: string, resource: string, token: bigint, owner: string): Promise<void> {
  await fencedTransaction(storage, { schema, resource, token }, async (tx) => {
    await storage.query(
      sql`insert into ${sql.identifier(schema)}.shard_map (resource, owner, token) values (${resource}, ${owner}, ${token.toString()}::bigint)
          on conflict (resource) do update set owner = excluded.owner, token = excluded.token`,
      tx,
    );
    await storage.query(sql`insert into ${sql.identifier(schema)}.shard_map_log (resource, token) values (${resource}, ${token.toString()}::bigint)`, tx);
  });
}

export async function readShardMap(storage: Storage, schema: string, resource: string): Promise<{ owner: string; token: string } | undefined> {
  const [row] = await storage.query<{ owner: string; token: string }>(
    sql`select owner, token::text as token from ${sql.identifier(schema)}.shard_map where resource = ${resource}`,
  );
  return row;
}
