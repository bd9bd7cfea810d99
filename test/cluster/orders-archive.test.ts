import { readFileSync, mkdtempSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { ConfigError, systemClock } from '@agora/kernel';
import { ORDER_MIGRATIONS, OrderStore } from '@agora/order';
import { monthPartitions, parseMonth } from '@agora/order/months';
import { PostgresStorage, type Storage } from '@agora/platform';
import { createTestDatabase, postgresBackend } from '@agora/platform/testing';
import { archiveOrders, type ArchiveLine, type ArchiveManifest, type MonthOutcome } from '../../apps/agora/src/orders-archive.js';

/** A UUIDv7 made at `ms`. */
function idAt(ms: number): string {
  const hex = ms.toString(16).padStart(12, '0') + '7' + randomBytes(2).toString('hex').slice(0, 3) + '8' + randomBytes(8).toString('hex').slice(0, 15);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const usd = (amount: number) => ({ amount, currency: 'USD' });

/** Opens an order with an id of `ms` on `storage` and sets its status (a saga row for it too, finished unless `running`). */
async function orderAt(storage: Storage, ms: number, status: string, running = false): Promise<string> {
  const id = idAt(ms);
  await new OrderStore(storage, systemClock).open({
    id,
    userId: randomUUID(),
    idempotencyKey: `k-${id}`,
    requestHash: 'h',
    openedAt: new Date(ms),
    lines: [{ sku: 'SKU-1', title: 'One', quantity: 1, unitPrice: usd(100), lineTotal: usd(100) }],
    total: usd(100),
    shippingAddress: undefined,
  });
  await storage.query(sql`update orders.orders set status = ${status} where id = ${id}::uuid`);
  await storage.query(sql`insert into orders.sagas (id, name, status, input, state, created_at, updated_at, finished_at)
    values (${id}::uuid, 'checkout', ${running ? 'RUNNING' : 'COMPLETED'}, '{}', '{}', now(), now(), ${running ? null : new Date().toISOString()}::timestamptz)`);
  await storage.query(sql`insert into orders.saga_steps (saga_id, step, phase, position, status, started_at) values (${id}::uuid, 'open', 'run', 0, 'DONE', now())`);
  return id;
}

const count = async (storage: Storage, table: string): Promise<number> =>
  Number((await storage.query<{ n: number }>(sql`select count(*)::int as n from ${sql.raw(table)}`))[0]?.n);

/** `agora orders archive`: final months leave every order shard for verified files, crash-safe and idempotent. */
describe.runIf(await postgresBackend.available())('agora orders archive (PostgreSQL, two shards)', () => {
  const databases: { url: string; drop(): Promise<void> }[] = [];
  const shards: { id: string; storage: Storage }[] = [];
  let outDir: string;
  const now = new Date();
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'orders-archive-'));
    for (let i = 0; i < 2; i++) {
      const database = await createTestDatabase('agora_archive');
      databases.push(database);
      const storage = new PostgresStorage({ url: database.url, poolMax: 2 });
      await storage.migrate('order', ORDER_MIGRATIONS);
      shards.push({ id: `s${i}`, storage });
    }
    const [s0, s1] = shards.map((s) => s.storage) as [Storage, Storage];
    ids.janConfirmed = await orderAt(s0, Date.UTC(2024, 0, 5), 'CONFIRMED');
    ids.janCancelled = await orderAt(s0, Date.UTC(2024, 0, 20), 'CANCELLED');
    ids.febPending = await orderAt(s0, Date.UTC(2024, 1, 3), 'PENDING');
    ids.marRunning = await orderAt(s1, Date.UTC(2024, 2, 3), 'CONFIRMED', true);
    ids.marchOther = await orderAt(s1, Date.UTC(2024, 2, 9), 'REJECTED');
    ids.aprConfirmed = await orderAt(s1, Date.UTC(2024, 3, 9), 'CONFIRMED');
    ids.current = await orderAt(s1, now.getTime(), 'PENDING');
  }, 120_000);

  afterAll(async () => {
    for (const s of shards) await s.storage.close();
    for (const d of databases) await d.drop();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  const outcomeOf = (outcomes: MonthOutcome[], shard: string, month: string) => outcomes.find((o) => o.shard === shard && o.month === month);

  it('refuses --before that is not a month or is after the current month, naming it', async () => {
    expect(() => parseMonth('2024-13', '--before')).toThrow(/--before/);
    const next = `${now.getUTCFullYear() + 1}-01` as const;
    await expect(archiveOrders({ shards, before: parseMonth(next, '--before'), outDir, now })).rejects.toThrow(ConfigError);
  });

  it('a crash between the export and the drop loses nothing; the next run archives each row exactly once', async () => {
    const crash = new Error('injected crash after export');
    await expect(
      archiveOrders({ shards: shards.slice(0, 1), before: parseMonth('2024-02', '--before'), outDir, now, afterExport: async () => Promise.reject(crash) }),
    ).rejects.toBe(crash);
    // Exported, not dropped: the orders are still in the database, the file is there.
    expect(await new OrderStore(shards[0]!.storage, systemClock).get(ids.janConfirmed!)).toBeDefined();
    expect(existsSync(join(outDir, 'orders-s0-2024-01.ndjson.gz'))).toBe(true);
  });

  it('archives every final month before --before on every shard, refuses the others saying why, and keeps later months', async () => {
    const lines: string[] = [];
    const outcomes = await archiveOrders({ shards, before: parseMonth('2024-04', '--before'), outDir, now, log: (l) => lines.push(l) });
    expect(outcomeOf(outcomes, 's0', '2024-01')).toMatchObject({ result: 'archived', rows: { 'orders.orders': 2, 'orders.order_lines': 2, 'orders.order_history': 2, 'orders.order_keys': 2, 'orders.sagas': 2 } });
    expect(outcomeOf(outcomes, 's0', '2024-02')).toMatchObject({ result: 'refused', reason: expect.stringContaining('1 of 1 orders not in a final status') });
    expect(outcomeOf(outcomes, 's1', '2024-03')).toMatchObject({ result: 'refused', reason: expect.stringContaining('1 sagas unfinished') });
    expect(lines.join('\n')).toMatch(/s0 2024-01: archived 2 orders/);
    // January left shard 0: partitions, orders, keys and sagas; February and March stay; April (not before) stays.
    const [s0, s1] = shards.map((s) => s.storage) as [Storage, Storage];
    expect(await monthPartitions(s0)).not.toContain('2024-01');
    expect(await monthPartitions(s0)).toContain('2024-02');
    expect(await monthPartitions(s1)).toEqual(expect.arrayContaining(['2024-03', '2024-04']));
    expect(await new OrderStore(s0, systemClock).get(ids.janConfirmed!)).toBeUndefined();
    expect((await s0.query(sql`select order_id from orders.order_keys where order_id = ${ids.janConfirmed!}::uuid`)).length).toBe(0);
    expect((await s0.query(sql`select id from orders.sagas where id = ${ids.janConfirmed!}::uuid`)).length).toBe(0);
    expect(await new OrderStore(s1, systemClock).get(ids.aprConfirmed!)).toBeDefined();
    expect(await count(s1, 'orders.orders')).toBe(4);

    // The file holds each row once (the crashed run's file was replaced, not appended to), as its manifest says.
    const file = join(outDir, 'orders-s0-2024-01.ndjson.gz');
    const bytes = readFileSync(file);
    const manifest = JSON.parse(readFileSync(join(outDir, 'orders-s0-2024-01.manifest.json'), 'utf8')) as ArchiveManifest;
    expect(manifest.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    const archived = gunzipSync(bytes).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as ArchiveLine);
    const orderRows = archived.filter((l) => l.table === 'orders.orders').map((l) => l.row.id);
    expect(orderRows.sort()).toEqual([ids.janConfirmed, ids.janCancelled].sort());
    expect(archived.length).toBe(Object.values(manifest.rows).reduce((a, b) => a + b, 0));
    expect(readdirSync(outDir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('run again: nothing archived twice, refused months still refused; once final they go', async () => {
    const [s0, s1] = shards.map((s) => s.storage) as [Storage, Storage];
    const again = await archiveOrders({ shards, before: parseMonth('2024-04', '--before'), outDir, now });
    expect(again.map((o) => `${o.shard} ${o.month} ${o.result}`).sort()).toEqual(['s0 2024-02 refused', 's1 2024-03 refused']);
    await s0.query(sql`update orders.orders set status = 'REJECTED' where id = ${ids.febPending!}::uuid`);
    await s1.query(sql`update orders.sagas set status = 'COMPLETED', finished_at = now() where id = ${ids.marRunning!}::uuid`);
    const last = await archiveOrders({ shards, before: parseMonth('2024-04', '--before'), outDir, now });
    expect(last.map((o) => `${o.shard} ${o.month} ${o.result}`).sort()).toEqual(['s0 2024-02 archived', 's1 2024-03 archived']);
    expect(await count(s0, 'orders.orders')).toBe(0);
    expect(await count(s1, 'orders.orders')).toBe(2);
  });

  it('an order that changes between the export and the drop keeps its month (nothing dropped)', async () => {
    const s1 = shards[1]!.storage;
    const outcomes = await archiveOrders({
      shards: shards.slice(1),
      before: parseMonth('2024-05', '--before'),
      outDir,
      now,
      afterExport: async () => void (await s1.query(sql`update orders.orders set status = 'CANCELLED' where id = ${ids.aprConfirmed!}::uuid`)),
    });
    expect(outcomeOf(outcomes, 's1', '2024-04')).toMatchObject({ result: 'refused', reason: expect.stringContaining('changed since they were exported') });
    expect(await new OrderStore(s1, systemClock).get(ids.aprConfirmed!)).toMatchObject({ status: 'CANCELLED' });
    // The next run exports the month as it is now and drops it.
    const next = await archiveOrders({ shards: shards.slice(1), before: parseMonth('2024-05', '--before'), outDir, now });
    expect(outcomeOf(next, 's1', '2024-04')).toMatchObject({ result: 'archived' });
    const archived = gunzipSync(readFileSync(join(outDir, 'orders-s1-2024-04.ndjson.gz'))).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as ArchiveLine);
    expect(archived.find((l) => l.table === 'orders.orders')?.row).toMatchObject({ id: ids.aprConfirmed, status: 'CANCELLED' });
  });

  // Run side by side on the shard's pool; the overlap is likely, not forced.
  it('orders opened on the shard while a month is archived all succeed', async () => {
    const s0 = shards[0]!.storage;
    const old = await orderAt(s0, Date.UTC(2023, 10, 2), 'CONFIRMED');
    const opening = Array.from({ length: 12 }, (_, i) => orderAt(s0, Date.now() + i, 'PENDING'));
    const [outcomes, opened] = await Promise.all([archiveOrders({ shards: shards.slice(0, 1), before: parseMonth('2023-12', '--before'), outDir, now }), Promise.all(opening)]);
    expect(outcomeOf(outcomes, 's0', '2023-11')).toMatchObject({ result: 'archived' });
    expect(await new OrderStore(s0, systemClock).get(old)).toBeUndefined();
    for (const id of opened) expect(await new OrderStore(s0, systemClock).get(id)).toMatchObject({ id, status: 'PENDING' });
  });
});
