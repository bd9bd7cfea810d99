import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { ManualClock, newId, systemClock } from '@agora/kernel';
import { SingleShardRouter, createLogger, type Storage } from '@agora/platform';
import { testBackends } from '@agora/platform/testing';
import { ORDER_MIGRATIONS } from '../src/index.js';
import { OrderStore, type NewOrder } from '../src/store/order-store.js';
import { ARCHIVED_TABLES, MonthChangedError, dropMonth, exportMonth, monthReadiness } from '../src/store/month-archive.js';
import { addMonths, ensureMonthPartitions, MONTH_PARTITIONS, MonthPartitionMaintenance, monthBound, monthOfDate, monthPartitions } from '../src/store/partitions.js';

/** A UUIDv7 made at `ms` (what newId makes at that time). */
function idAt(ms: number): string {
  const hex = ms.toString(16).padStart(12, '0') + '7' + randomBytes(2).toString('hex').slice(0, 3) + '8' + randomBytes(8).toString('hex').slice(0, 15);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function newOrder(id: string, userId: string, key: string): NewOrder {
  const usd = (amount: number) => ({ amount, currency: 'USD' });
  return {
    id,
    userId,
    idempotencyKey: key,
    requestHash: `hash-${key}`,
    openedAt: new Date(),
    lines: [{ sku: 'SKU-1', title: 'One', quantity: 2, unitPrice: usd(150), lineTotal: usd(300) }],
    total: usd(300),
    shippingAddress: undefined,
  };
}

/** The order migrations up to and including `lastTag`, as a folder of their own (a database "at the previous migration"). */
function migrationsUpTo(lastTag: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'order-migrations-'));
  cpSync(ORDER_MIGRATIONS, dir, { recursive: true });
  const journalFile = join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] };
  const last = journal.entries.findIndex((e) => e.tag === lastTag);
  expect(last, `migration ${lastTag} exists`).toBeGreaterThanOrEqual(0);
  writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, last + 1) }));
  return dir;
}

const JAN_2025 = Date.UTC(2025, 0, 17, 12);

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`orders by month (${backend.kind})`, () => {
    let storage: Storage;
    let release: () => Promise<void>;
    let store: OrderStore;
    const before = { old: idAt(JAN_2025), recent: newId(), foreign: randomUUID(), user: randomUUID() };

    beforeAll(async () => {
      ({ storage, release } = await backend.open());
      // A database at the migration before partitioning, holding orders: one of January 2025, one of
      // now, one whose id is not a UUIDv7 (no month: it must be kept all the same).
      const previous = migrationsUpTo('0003_flash_sale_pay_by');
      try {
        await storage.migrate('order', previous);
      } finally {
        rmSync(previous, { recursive: true, force: true });
      }
      for (const [i, id] of [before.old, before.recent, before.foreign].entries()) {
        await storage.query(sql`insert into orders.orders (id, user_id, status, currency, total_amount, idempotency_key, request_hash, response_status, response_body, created_at, updated_at)
          values (${id}::uuid, ${before.user}::uuid, 'CONFIRMED', 'USD', 300, ${`key-${i}`}, 'h', 201, '{"ok":true}'::jsonb, now(), now())`);
        await storage.query(sql`insert into orders.order_lines values (${id}::uuid, 0, 'SKU-1', 'One', 2, 150, 300)`);
        await storage.query(sql`insert into orders.order_history (id, order_id, status, at) values (${newId()}::uuid, ${id}::uuid, 'PENDING', now()), (${newId()}::uuid, ${id}::uuid, 'CONFIRMED', now())`);
      }
      await storage.migrate('order', ORDER_MIGRATIONS);
      store = new OrderStore(storage, systemClock);
    });

    afterAll(async () => {
      await release?.();
    });

    it('the migration keeps every order, line, history entry and Idempotency-Key, each order in its month', async () => {
      for (const id of [before.old, before.recent, before.foreign]) {
        const order = await store.get(id);
        expect(order?.lines).toHaveLength(1);
        expect(order?.history.map((h) => h.status)).toEqual(['PENDING', 'CONFIRMED']);
      }
      const [kept] = await storage.query<{ orders: number; lines: number; history: number; keys: number }>(sql`select
        (select count(*)::int from orders.orders) as orders, (select count(*)::int from orders.order_lines) as lines,
        (select count(*)::int from orders.order_history) as history, (select count(*)::int from orders.order_keys) as keys`);
      expect(kept).toEqual({ orders: 3, lines: 3, history: 6, keys: 3 });
      const where = await storage.query<{ id: string; partition: string }>(sql`select id::text, tableoid::regclass::text as partition from orders.orders`);
      const partitionOf = new Map(where.map((r) => [r.id, r.partition]));
      expect(partitionOf.get(before.old)).toBe('orders.orders_y2025m01');
      expect(partitionOf.get(before.recent)).toBe(`orders.orders_y${monthOfDate(new Date()).replace('-', 'm')}`);
      expect(partitionOf.get(before.foreign)).toBe('orders.orders_default');
      const [relkind] = await storage.query<{ kind: string }>(sql`select relkind::text as kind from pg_class where oid = 'orders.orders'::regclass`);
      expect(relkind?.kind).toBe('p');
      // The key that opened an order before the migration still finds it.
      expect((await store.findByKey(before.user, 'key-0'))?.id).toBe(before.old);
      expect((await store.findByKey(before.user, 'key-0'))?.answer).toEqual({ status: 201, body: { ok: true } });
    });

    it('makes the current month and the months ahead, and January 2025 for its order', async () => {
      const months = await monthPartitions(storage);
      const current = monthOfDate(new Date());
      for (let i = 0; i <= MONTH_PARTITIONS.monthsAhead; i++) expect(months).toContain(addMonths(current, i));
      expect(months).toContain('2025-01');
      expect(await ensureMonthPartitions(storage, new Date())).toEqual([]);
    });

    it('each instance makes the months ahead of its clock on every shard, at start', async () => {
      const maintenance = new MonthPartitionMaintenance(new SingleShardRouter(storage), new ManualClock(new Date(Date.UTC(2040, 5, 15))), createLogger('order', 'silent'));
      await maintenance.start();
      await maintenance.stop();
      const months = await monthPartitions(storage);
      for (let i = 0; i <= MONTH_PARTITIONS.monthsAhead; i++) expect(months).toContain(addMonths('2040-06', i));
      expect(months).not.toContain(addMonths('2040-06', MONTH_PARTITIONS.monthsAhead + 1));
    });

    it('instances making the same months at once: each month is made once, its default rows moved once', async () => {
      const user = randomUUID();
      const id = idAt(Date.UTC(2077, 2, 9));
      await store.open(newOrder(id, user, 'race'));
      const runs = await Promise.all(Array.from({ length: 4 }, () => ensureMonthPartitions(storage, new Date(Date.UTC(2077, 0, 20)), 2)));
      expect(runs.flat().sort()).toEqual(['2077-01', '2077-02', '2077-03']);
      const [row] = await storage.query<{ p: string; n: number }>(sql`select tableoid::regclass::text as p, count(*) over ()::int as n from orders.orders where user_id = ${user}::uuid`);
      expect(row).toEqual({ p: 'orders.orders_y2077m03', n: 1 });
    });

    it('one order per (user, Idempotency-Key), whatever the month of the ids', async () => {
      const user = randomUUID();
      const first = await store.open(newOrder(newId(), user, 'k1'));
      expect(first.created).toBe(true);
      // The same key with an id of another month: still the first order.
      const again = await store.open(newOrder(idAt(JAN_2025), user, 'k1'));
      expect(again).toMatchObject({ created: false, key: { id: first.key.id } });
      // Concurrent opens of one key: one order.
      const racing = await Promise.all(Array.from({ length: 8 }, () => store.open(newOrder(newId(), user, 'k2'))));
      expect(racing.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(racing.map((r) => r.key.id)).size).toBe(1);
      const [count] = await storage.query<{ n: number }>(sql`select count(*)::int as n from orders.orders where user_id = ${user}::uuid`);
      expect(count?.n).toBe(2);
    });

    it('an order of a month far ahead or far behind is taken (default partition) and moves into its month when that is made', async () => {
      const user = randomUUID();
      const ahead = idAt(Date.UTC(2091, 4, 3));
      const behind = idAt(Date.UTC(1999, 11, 31, 23, 59));
      for (const [i, id] of [ahead, behind].entries()) expect((await store.open(newOrder(id, user, `far-${i}`))).created).toBe(true);
      const partition = async (id: string) =>
        (await storage.query<{ p: string }>(sql`select tableoid::regclass::text as p from orders.orders where id = ${id}::uuid`))[0]?.p;
      expect(await partition(ahead)).toBe('orders.orders_default');
      const made = await ensureMonthPartitions(storage, new Date());
      expect(made).toEqual(expect.arrayContaining(['1999-12', '2091-05']));
      expect(await partition(ahead)).toBe('orders.orders_y2091m05');
      expect(await partition(behind)).toBe('orders.orders_y1999m12');
      for (const id of [ahead, behind]) {
        const order = await store.get(id);
        expect(order?.lines).toHaveLength(1);
        expect(order?.history).toHaveLength(1);
      }
      const [lines] = await storage.query<{ p: string }>(sql`select tableoid::regclass::text as p from orders.order_lines where order_id = ${ahead}::uuid`);
      expect(lines?.p).toBe('orders.order_lines_y2091m05');
      // The TypeScript bound and the SQL one agree.
      const [bound] = await storage.query<{ b: string }>(sql`select orders.month_bound('2091-05-01')::text as b`);
      expect(bound?.b).toBe(monthBound('2091-05'));
    });

    it('a final month leaves: read in one snapshot, refused if it changed, then its partitions dropped (the store part of the archive command)', async () => {
      expect(await monthReadiness(storage, '2025-01')).toEqual({ orders: 1, notFinal: 0, unfinishedSagas: 0 });
      const rows: { table: string; row: unknown }[] = [];
      const digest = await exportMonth(storage, '2025-01', async (table, row) => void rows.push({ table, row }));
      expect(rows.filter((r) => r.table === 'orders.orders').map((r) => (r.row as { id: string }).id)).toEqual([before.old]);
      expect(rows.length).toBe(ARCHIVED_TABLES.reduce((n, t) => n + digest.rows[t], 0));
      const stale = { ...digest, sums: { ...digest.sums, 'orders.orders': '0' } };
      await expect(dropMonth(storage, '2025-01', stale)).rejects.toBeInstanceOf(MonthChangedError);
      expect(await store.get(before.old)).toBeDefined();
      await dropMonth(storage, '2025-01', digest);
      expect(await store.get(before.old)).toBeUndefined();
      expect(await store.findByKey(before.user, 'key-0')).toBeUndefined();
      expect(await monthPartitions(storage)).not.toContain('2025-01');
    });
  });
}
