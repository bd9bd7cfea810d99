import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { ORDER_SHARDED_DATA } from '@agora/order';
import { PostgresStorage, copyKeys, deleteKeys, type Storage } from '@agora/platform';
import { createTestDatabase, postgresBackend } from '@agora/platform/testing';
import { checkInvariants } from '../support/invariants.js';
import { Shop, mapLimit, type Order, type Page, type Shopper } from '../support/shop.js';

/** Shoppers: enough that both shards of the ring get several (each gets ~half). */
const SHOPPERS = 12;
/** A small admin page, so the listing crosses shards many times. */
const ADMIN_PAGE = 3;
/** Connections per shard pool here: 7 other suites share the server's 100. */
const POOL = 2;

/**
 * Orders and carts on two shard databases (ORDER_SHARDS, CART_SHARDS), the whole system in one
 * process on PostgreSQL: checkouts of many shoppers land on both shards, each shopper sees their
 * own orders, the operators' list pages through every shard with no duplicate and no gap, and
 * the conservation laws hold over both shards.
 */
describe.runIf(await postgresBackend.available())('orders and carts on two shards (PostgreSQL)', () => {
  const databases: { url: string; drop(): Promise<void> }[] = [];
  const shards: Storage[] = [];
  let shop: Shop;
  let shoppers: Shopper[];
  const placed = new Map<string, Order[]>();

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) databases.push(await createTestDatabase('agora_shard'));
    const urls = databases.map((d) => d.url).join(',');
    shop = await Shop.open({ name: 'postgres', backend: postgresBackend, nats: false, available: async () => true }, { ORDER_SHARDS: urls, CART_SHARDS: urls, AGORA_SHARD_POOL_MAX: String(POOL) });
    for (const d of databases) shards.push(new PostgresStorage({ url: d.url, poolMax: POOL }));
    const sku = await shop.sku(700, 1_000, 'SHARD');
    shoppers = await shop.registerMany(SHOPPERS, 4, 'sharded');
    await mapLimit(shoppers, 4, async (shopper, i) => {
      const orders: Order[] = [];
      for (let n = 0; n <= i % 3; n++) orders.push(await shop.buy(shopper, [[sku, 1 + n]]));
      placed.set(shopper.id, orders);
    });
  }, 240_000);

  afterAll(async () => {
    await shop?.stop();
    for (const s of shards) await s.close();
    for (const d of databases) await d.drop();
  });

  const ordersOn = async (storage: Storage): Promise<{ id: string; user_id: string }[]> =>
    storage.query<{ id: string; user_id: string }>(sql`select id::text, user_id::text from orders.orders`);

  it('puts every shopper on one shard with all their orders and their cart; both shards are used', async () => {
    const [first, second] = await Promise.all(shards.map(ordersOn));
    expect(first!.length).toBeGreaterThan(0);
    expect(second!.length).toBeGreaterThan(0);
    const onFirst = new Set(first!.map((o) => o.user_id));
    for (const o of second!) expect(onFirst.has(o.user_id), `shopper ${o.user_id} has orders on both shards`).toBe(false);
    const total = [...placed.values()].reduce((n, orders) => n + orders.length, 0);
    expect(first!.length + second!.length).toBe(total);
    // The main database holds the shard map, no orders.
    const main = await shop.storage('order');
    expect(await ordersOn(main)).toEqual([]);
    const [map] = await main.query<{ version: number; members: { id: string }[] }>(sql`select version, members from sharding.shard_maps where service = 'order'`);
    expect(map?.members.map((m) => m.id)).toEqual(['s0', 's1']);
    // Carts follow the same map: each cart row is on its shopper's order shard (same URLs, same ring).
    for (const [index, storage] of shards.entries()) {
      const carts = await storage.query<{ user_id: string }>(sql`select user_id::text from cart.carts`);
      const owners = new Set((index === 0 ? first! : second!).map((o) => o.user_id));
      for (const c of carts) expect(owners.has(c.user_id)).toBe(true);
    }
  });

  it("lists and reads each shopper's own orders from their shard", async () => {
    for (const shopper of shoppers) {
      const mine = placed.get(shopper.id) ?? [];
      const listed = await shop.allOrders(shopper, 2);
      expect(listed.map((o) => o.id).sort()).toEqual(mine.map((o) => o.id).sort());
      for (const order of mine) expect((await shop.order(shopper, order.id)).status).toBe('CONFIRMED');
    }
  });

  it('pages the operators through every shard with no duplicate and no gap, newest first', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let round = 0; round < 100; round++) {
      const path: string = `/api/v1/admin/orders?limit=${ADMIN_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await shop.api.get<Page<Order>>(path, { token: shop.adminToken });
      expect(res.status, res.text).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(ADMIN_PAGE);
      seen.push(...res.body.items.map((o) => o.id));
      cursor = res.body.nextCursor;
      if (cursor === null) break;
    }
    expect(cursor).toBeNull();
    const all = [...placed.values()].flat().map((o) => o.id);
    expect(seen).toEqual([...all].sort().reverse());
    // An admin finds any order by id alone (fan-out).
    const some = all[all.length - 1]!;
    expect((await shop.api.get<Order>(`/api/v1/orders/${some}`, { token: shop.adminToken })).status).toBe(200);
  });

  it('keeps the conservation laws over both shards, and names an order found on two', async () => {
    const input = {
      inventory: await shop.storage('inventory'),
      orders: shards,
      payment: await shop.storage('payment'),
      initialStock: shop.initialStock,
    };
    expect((await checkInvariants(input)).violations).toEqual([]);
    // A copy of one shopper's orders on the other shard: the checker must say so.
    const [row] = await shards[0]!.query<{ user_id: string }>(sql`select user_id::text from orders.orders limit 1`);
    const shopperId = row!.user_id;
    await copyKeys(shards[0]!, shards[1]!, ORDER_SHARDED_DATA, [shopperId]);
    try {
      const report = await checkInvariants(input);
      expect(report.violations.join('; ')).toMatch(/on more than one shard/);
    } finally {
      await deleteKeys(shards[1]!, ORDER_SHARDED_DATA, [shopperId]);
    }
    expect((await checkInvariants(input)).violations).toEqual([]);
  });
});
