import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { PG_CHECK_VIOLATION, PG_UNIQUE_VIOLATION, pgErrorCode, type Storage } from '../src/index.js';
import { testBackends } from '../src/testing/index.js';

const MIGRATIONS = fileURLToPath(new URL('./fixtures/migrations', import.meta.url));

/** The storage port's contract: every adapter must pass the same suite. */
for (const backend of testBackends) {
  describe.runIf(await backend.available())(`storage contract on ${backend.kind}`, () => {
    let storage: Storage;
    let release: () => Promise<void>;

    beforeAll(async () => {
      const opened = await backend.open();
      storage = opened.storage;
      release = opened.release;
      await storage.migrate('contract', MIGRATIONS);
    });
    afterAll(async () => release());

    it('reports its kind and answers ping', async () => {
      expect(storage.kind).toBe(backend.kind);
      await expect(storage.ping()).resolves.toBeUndefined();
    });

    it('applies migrations once: a second run is a no-op', async () => {
      await storage.migrate('contract', MIGRATIONS);
      const applied = await storage.query<{ n: number }>(sql`select count(*)::int as n from agora_migrations.contract`);
      expect(applied[0]?.n).toBe(2);
      const columns = await storage.query<{ column_name: string }>(
        sql`select column_name from information_schema.columns where table_schema = 'contract' and table_name = 'counter' order by column_name`,
      );
      expect(columns.map((c) => c.column_name)).toEqual(['name', 'note', 'value']);
    });

    it('commits a transaction and rolls one back on throw', async () => {
      await storage.transaction(async (tx) => {
        await storage.query(sql`insert into contract.counter (name, value) values ('committed', 1)`, tx);
      });
      await expect(
        storage.transaction(async (tx) => {
          await storage.query(sql`insert into contract.counter (name, value) values ('rolled-back', 1)`, tx);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      const rows = await storage.query<{ name: string }>(sql`select name from contract.counter where name in ('committed', 'rolled-back')`);
      expect(rows.map((r) => r.name)).toEqual(['committed']);
    });

    it('exposes SQLSTATE codes for unique and check violations', async () => {
      await storage.query(sql`insert into contract.counter (name, value, note) values ('u1', 1, 'same')`);
      const unique = await storage.query(sql`insert into contract.counter (name, value, note) values ('u2', 1, 'same')`).catch((e: unknown) => e);
      expect(pgErrorCode(unique)).toBe(PG_UNIQUE_VIOLATION);
      const check = await storage.query(sql`insert into contract.counter (name, value) values ('neg', -1)`).catch((e: unknown) => e);
      expect(pgErrorCode(check)).toBe(PG_CHECK_VIOLATION);
    });

    it('a guarded update never lets concurrent takers drive a value below zero', async () => {
      await storage.query(sql`insert into contract.counter (name, value) values ('stock', 10)`);
      const takers = Array.from({ length: 40 }, () =>
        storage.query<{ value: number }>(sql`update contract.counter set value = value - 1 where name = 'stock' and value >= 1 returning value`),
      );
      const results = await Promise.all(takers);
      expect(results.filter((rows) => rows.length === 1)).toHaveLength(10);
      const left = await storage.query<{ value: number }>(sql`select value from contract.counter where name = 'stock'`);
      expect(left[0]?.value).toBe(0);
    });

    it('serializes concurrent read-modify-write inside transactions with FOR UPDATE', async () => {
      await storage.query(sql`insert into contract.counter (name, value) values ('rmw', 0)`);
      await Promise.all(
        Array.from({ length: 20 }, () =>
          storage.transaction(async (tx) => {
            const [row] = await storage.query<{ value: number }>(sql`select value from contract.counter where name = 'rmw' for update`, tx);
            await storage.query(sql`update contract.counter set value = ${(row?.value ?? 0) + 1} where name = 'rmw'`, tx);
          }),
        ),
      );
      const rows = await storage.query<{ value: number }>(sql`select value from contract.counter where name = 'rmw'`);
      expect(rows[0]?.value).toBe(20);
    });
  });
}
