import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { PostgresStorage } from '../src/index.js';
import { createTestDatabase, postgresBackend } from '../src/testing/index.js';

/** Prepared statements of this storage's one connection, by name. */
async function prepared(storage: PostgresStorage): Promise<string[]> {
  // No parameters: runs unnamed, so it does not list itself.
  const rows = await storage.query<{ name: string }>(sql`select name from pg_prepared_statements where name like 'agora_%' order by name`);
  return rows.map((r) => r.name);
}

describe.runIf(await postgresBackend.available())('PostgreSQL named prepared statements', () => {
  let database: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    database = await createTestDatabase('agora_named');
  });
  afterAll(async () => database?.drop());

  it('prepares a statement with parameters once per connection and reuses it; same rows as unnamed', async () => {
    const named = new PostgresStorage({ url: database.url, poolMax: 1 });
    const plain = new PostgresStorage({ url: database.url, poolMax: 1, namedStatements: false });
    try {
      const statement = (n: number) => sql`select ${n}::int as n, now() as at, '{"a":1}'::jsonb as doc, 9007199254740::bigint as big`;
      const first = await named.query<Record<string, unknown>>(statement(1));
      expect(await prepared(named)).toHaveLength(1);
      await named.query(statement(2));
      await named.transaction((tx) => named.query(statement(3), tx));
      expect(await prepared(named)).toHaveLength(1);
      await named.query(sql`select ${'other'}::text as t`);
      expect(await prepared(named)).toHaveLength(2);
      // Without parameters a statement runs unnamed (it may be several commands, which only the simple protocol takes).
      await named.query(sql`select 1 as one`);
      expect(await prepared(named)).toHaveLength(2);

      const unnamed = await plain.query<Record<string, unknown>>(statement(1));
      expect(await prepared(plain)).toEqual([]);
      // The driver's row shapes do not change with the name: timestamps, json and bigint alike.
      expect(Object.fromEntries(Object.entries(first[0] ?? {}).map(([k, v]) => [k, typeof v]))).toEqual(
        Object.fromEntries(Object.entries(unnamed[0] ?? {}).map(([k, v]) => [k, typeof v])),
      );
      expect(first[0]).toMatchObject({ n: 1, doc: { a: 1 }, big: '9007199254740' });
    } finally {
      await named.close();
      await plain.close();
    }
  });
});
