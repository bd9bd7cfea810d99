import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { ShardOverview, ShardOverviewService } from '@agora/contracts';
import { FENCE_WAITS_METRIC, createLogger, PostgresStorage, type MovePhase, type MoveReport, type Storage } from '@agora/platform';
import { createTestDatabase, postgresBackend } from '@agora/platform/testing';
import { moveShards, type MapChange, type ShardedService } from '../../apps/agora/src/shards.js';
import { checkInvariants } from '../support/invariants.js';
import { Shop, checkoutBody, eventually, mapLimit, type Order, type Shopper } from '../support/shop.js';

/** Shoppers: with 14, the chance that none of them moves to a third shard is (2/3)^14 ≈ 0.3%. */
const SHOPPERS = 14;
/** Shoppers acting at once while the moves run. */
const CONCURRENCY = 5;
/** Routers re-read the map this often here; the moves wait a few of these before cleaning up. */
const POLL_MS = 100;
const GRACE_MS = 5 * POLL_MS;
const POOL = 2;
/** The traffic runs until the moves are done, or at most this long. */
const TRAFFIC_MAX_MS = 240_000;

/**
 * Online resharding in one process on PostgreSQL: orders and carts on two shards move to three
 * (`agora shards add`) and back (`agora shards remove`) while shoppers keep adding to carts,
 * checking out and reading their orders. No answer is a 5xx; every order a shopper was given is
 * listed for them afterwards, exactly once, on exactly one shard; the conservation laws hold; the
 * third shard ends empty.
 */
describe.runIf(await postgresBackend.available())('online resharding 2 -> 3 -> 2 shards under load (PostgreSQL)', () => {
  const databases: { url: string; drop(): Promise<void> }[] = [];
  const shards: Storage[] = [];
  let shop: Shop;
  let sku: string;
  let shoppers: Shopper[];
  const given = new Map<string, Set<string>>();
  const statuses = new Map<number, number>();
  const reports: MoveReport[] = [];
  /** The writes made by frozen shoppers during a move's catch-up. */
  const raced: Promise<void>[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) databases.push(await createTestDatabase('agora_move'));
    const urls = databases.slice(0, 2).map((d) => d.url).join(',');
    shop = await Shop.open(
      { name: 'postgres', backend: postgresBackend, nats: false, available: async () => true },
      { ORDER_SHARDS: urls, CART_SHARDS: urls, AGORA_SHARD_POOL_MAX: String(POOL), AGORA_SHARD_MAP_POLL_MS: String(POLL_MS) },
    );
    for (const d of databases) shards.push(new PostgresStorage({ url: d.url, poolMax: POOL }));
    sku = await shop.sku(300, 100_000, 'MOVE');
    shoppers = await shop.registerMany(SHOPPERS, 4, 'mover');
    for (const s of shoppers) given.set(s.id, new Set([(await shop.buy(s, [[sku, 1]])).id]));
  }, 240_000);

  afterAll(async () => {
    await shop?.stop();
    for (const s of shards) await s.close();
    for (const d of databases) await d.drop();
  });

  const count = (status: number): void => void statuses.set(status, (statuses.get(status) ?? 0) + 1);

  /** One shopper's round: add, change a line, check out, read the orders. */
  const round = async (shopper: Shopper): Promise<void> => {
    const opts = { token: shopper.token };
    const added = await shop.api.post('/api/v1/cart/items', { sku, quantity: 2 }, opts);
    count(added.status);
    count((await shop.api.patch(`/api/v1/cart/items/${sku}`, { quantity: 1 }, opts)).status);
    const answer = await shop.api.post<Order>('/api/v1/checkout', checkoutBody('tok_visa'), { ...opts, headers: { 'idempotency-key': randomUUID() } });
    count(answer.status);
    if ((answer.status === 201 || answer.status === 202) && answer.body.id) given.get(shopper.id)?.add(answer.body.id);
    count((await shop.api.get('/api/v1/orders?limit=5', opts)).status);
    for (const id of [...(given.get(shopper.id) ?? [])].slice(-2)) count((await shop.api.get(`/api/v1/orders/${id}`, opts)).status);
  };

  const fenceWaits = async (service: ShardedService): Promise<number> => {
    const metric = shop.system.agora.metrics.registry.getSingleMetric(FENCE_WAITS_METRIC);
    return metric ? (await metric.get()).values.filter((v) => v.labels.service === service).reduce((n, v) => n + v.value, 0) : 0;
  };

  /**
   * While the moving shoppers are frozen (the mover's catch-up begins), one of them writes: the
   * mover waits until that write has met the fence at least once, so the race is proven to happen,
   * then goes on; the write lands on the new shard after the switch.
   */
  const raceAFrozenShopper = async (service: ShardedService): Promise<void> => {
    const frozen = new Set((await Promise.all(shards.map((s) => s.query<{ key: string }>(sql`select key from sharding.moved_keys where service = ${service} and state = 'frozen'`)))).flat().map((r) => r.key));
    const shopper = shoppers.find((s) => frozen.has(s.id));
    if (!shopper) throw new Error(`no shopper of the ${service} move is frozen (frozen: ${[...frozen].join(", ")}; all: ${JSON.stringify(await Promise.all(shards.map((s) => s.query(sql`select * from sharding.moved_keys`))))})`);
    const before = await fenceWaits(service);
    raced.push(
      (async () => {
        if (service === 'cart') return count((await shop.api.post('/api/v1/cart/items', { sku, quantity: 1 }, { token: shopper.token })).status);
        count((await shop.api.post('/api/v1/cart/items', { sku, quantity: 1 }, { token: shopper.token })).status);
        const answer = await shop.api.post<Order>('/api/v1/checkout', checkoutBody('tok_visa'), { token: shopper.token, headers: { 'idempotency-key': randomUUID() } });
        count(answer.status);
        if (answer.body.id) given.get(shopper.id)?.add(answer.body.id);
      })(),
    );
    await eventually(`a ${service} write meets the fence`, () => fenceWaits(service), (n) => n > before, 5_000);
  };

  /** The admin's view of a service's shards (GET /api/v1/admin/shards). */
  const overview = async (service: ShardedService): Promise<ShardOverviewService> => {
    const answer = await shop.api.get<ShardOverview>('/api/v1/admin/shards', { token: shop.adminToken });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const found = answer.body.services.find((s) => s.service === service);
    if (!found) throw new Error(`no ${service} in ${JSON.stringify(answer.body)}`);
    return found;
  };
  /** What the admin saw of each move while its catch-up ran. */
  const seenRunning: ShardOverviewService['move'][] = [];

  const move = async (service: ShardedService, change: MapChange): Promise<void> => {
    const main = await shop.system.agora.storages.forService(service);
    const onPhase = async (phase: MovePhase): Promise<void> => {
      if (phase !== 'catch-up') return;
      seenRunning.push((await overview(service)).move);
      await raceAFrozenShopper(service);
    };
    reports.push(await moveShards({ service, main, change, logger: createLogger('move', 'silent'), limits: { graceMs: GRACE_MS }, onPhase }));
  };

  it('moves exactly the shoppers whose shard changes while checkouts, cart edits and reads go on, with no 5xx and no order lost or doubled', async () => {
    let moving = true;
    const traffic = mapLimit(shoppers, CONCURRENCY, async (shopper) => {
      const deadline = Date.now() + TRAFFIC_MAX_MS;
      while (moving && Date.now() < deadline) await round(shopper);
    });
    try {
      await move('order', { kind: 'add', url: databases[2]!.url });
      await move('cart', { kind: 'add', url: databases[2]!.url });
      await move('order', { kind: 'remove', id: 's2' });
      await move('cart', { kind: 'remove', id: 's2' });
    } finally {
      moving = false;
      await traffic;
      await Promise.all(raced);
    }
    expect(raced).toHaveLength(4);
    const fivexx = [...statuses].filter(([status]) => status >= 500);
    expect(fivexx, JSON.stringify(Object.fromEntries(statuses))).toEqual([]);
    const [toThree, cartToThree, backOrder, backCart] = reports;
    expect(toThree!.movedKeys, 'some shoppers move to the new shard').toBeGreaterThan(0);
    expect(Object.keys(toThree!.routes).every((route) => route.endsWith('→s2'))).toBe(true);
    expect(Object.keys(backOrder!.routes).every((route) => route.startsWith('s2→'))).toBe(true);
    expect(backOrder!.movedKeys).toBe(toThree!.movedKeys);
    expect(cartToThree!.toVersion).toBe(2);
    expect(backCart!.toVersion).toBe(3);

    // The frozen shoppers' writes waited (counted) and then succeeded on the new shard.
    expect(await fenceWaits('order')).toBeGreaterThan(0);
    expect(await fenceWaits('cart')).toBeGreaterThan(0);
    // Every order a shopper was given is listed for them once; the third shard is empty again.
    for (const shopper of shoppers) {
      const listed = (await shop.allOrders(shopper)).map((o) => o.id).sort();
      expect(listed).toEqual([...(given.get(shopper.id) ?? [])].sort());
    }
    expect(await shards[2]!.query(sql`select id from orders.orders`)).toEqual([]);
    await eventually('no checkout in flight', async () => (await Promise.all(shards.map((s) => s.query(sql`select id from orders.orders where status in ('PENDING', 'RESERVED')`)))).flat().length, (n) => n === 0);
    expect(await shards[2]!.query(sql`select user_id from cart.carts`)).toEqual([]);
    const report = await checkInvariants({ inventory: await shop.storage('inventory'), orders: shards, payment: await shop.storage('payment'), initialStock: shop.initialStock });
    expect(report.violations, JSON.stringify(report)).toEqual([]);

    // The admin's Shards page saw each move running at its catch-up, and now sees the last one
    // done, the map back to two shards, and what each shard holds: every order counted once.
    expect(seenRunning.map((m) => [m?.outcome, m?.phase, m?.toVersion])).toEqual([
      ['running', 'catch-up', 2],
      ['running', 'catch-up', 2],
      ['running', 'catch-up', 3],
      ['running', 'catch-up', 3],
    ]);
    const orders = await overview('order');
    expect(orders).toMatchObject({ counted: 'orders', version: 3, strategy: 'hash', move: { fromVersion: 2, toVersion: 3, outcome: 'done', phase: 'clean-up' } });
    expect(orders.members.map((m) => m.id)).toEqual(['s0', 's1']);
    expect(orders.members.every((m) => m.error === null && m.share !== null && m.share > 0)).toBe(true);
    expect(orders.members.reduce((sum, m) => sum + (m.share ?? 0), 0)).toBeCloseTo(1, 9);
    const held = await Promise.all(shards.slice(0, 2).map(async (s) => (await s.query<{ n: string; users: string }>(sql`select count(*) as n, count(distinct user_id) as users from orders.orders`))[0]));
    expect(orders.members.map((m) => [m.rows, m.shoppers])).toEqual(held.map((h) => [Number(h?.n), Number(h?.users)]));
    expect(orders.members.reduce((sum, m) => sum + (m.shoppers ?? 0), 0)).toBe(SHOPPERS);
  }, 600_000);
});
