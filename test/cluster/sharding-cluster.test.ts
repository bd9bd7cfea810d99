import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackClient } from '@agora/bench';
import { PostgresStorage, createLogger, type Storage } from '@agora/platform';
import { createTestDatabase } from '@agora/platform/testing';
import { moveShards } from '../../apps/agora/src/shards.js';
import { checkInvariants } from '../support/invariants.js';
import { clusterServersAvailable, startTestCluster, type TestCluster } from './support.js';

const ADMIN = { email: 'shard-admin@test.agora', password: 'shard-admin-password-1' };
/** Two processes of each sharded service, one of the rest: every order/cart instance routes by the stored map. */
const SERVICES = { identity: 1, inventory: 1, catalog: 1, cart: 2, payment: 1, order: 2 } as const;
const SHOPPERS = 16;
/** Requests in flight at once (scrypt registration is the slow part). */
const CONCURRENCY = 4;
const STOCK = 500;
const PRICE = 1_250;

interface Page {
  items: { id: string; userId: string; status: string }[];
  nextCursor: string | null;
}

/**
 * The cluster with two order shards and two cart shards (ORDER_SHARDS, CART_SHARDS: what
 * `agora cluster --order-shards 2 --cart-shards 2` sets for its members): checkouts of many
 * shoppers through separate processes land on both shards, every shopper's orders are listed,
 * and the conservation laws hold over both shards.
 */
describe.runIf(await clusterServersAvailable())('cluster with two order and two cart shards', () => {
  const databases: { url: string; drop(): Promise<void> }[] = [];
  const shards: Storage[] = [];
  let tc: TestCluster;
  let http: LoopbackClient;
  const bought = new Map<string, string[]>();
  const tokens = new Map<string, string>();
  const sku = `SHC-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    // Two shards to start with, a third for the move.
    for (let i = 0; i < 3; i++) databases.push(await createTestDatabase('agora_shard'));
    const urls = databases.slice(0, 2).map((d) => d.url).join(',');
    // 8 pools of 4 (the cluster divides the share), plus each process's shard pools of 2.
    tc = await startTestCluster({ gateways: 1, services: SERVICES, admin: ADMIN, connections: 32, env: {
        ORDER_SHARDS: urls,
        CART_SHARDS: urls,
        AGORA_SHARD_POOL_MAX: '2',
        // Shared by every member (agora cluster generates one), whether or not support.ts sets it.
        AGORA_INTERNAL_SECRET: randomBytes(48).toString('base64url'),
      },
    });
    for (const d of databases.slice(0, 2)) shards.push(new PostgresStorage({ url: d.url, poolMax: 2 }));
    http = new LoopbackClient(tc.gateway, CONCURRENCY);
    const token = tc.cluster.adminToken;
    const created = await http.request('POST', '/api/v1/admin/products', {
      token,
      parse: true,
      body: { name: 'Sharded', description: 'bought across shards', category: 'shards', variants: [{ sku, title: 'One', price: { amount: PRICE, currency: 'USD' } }] },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await http.request('PUT', `/api/v1/admin/inventory/${sku}`, { token, body: { onHand: STOCK } })).status).toBe(200);
  }, 300_000);

  afterAll(async () => {
    await http?.close();
    for (const s of shards) await s.close();
    await tc?.stop();
    for (const d of databases) await d.drop();
  });

  it('lands checkouts of many shoppers on both shards, and lists every shopper its orders', async () => {
    const tag = randomUUID().slice(0, 8);
    const shopper = async (i: number): Promise<void> => {
      const registered = await http.request('POST', '/api/v1/auth/register', { parse: true, body: { email: `shard-${tag}-${i}@test.agora`, password: 'shard-password-1', name: `Shopper ${i}` } });
      expect(registered.status, JSON.stringify(registered.body)).toBe(201);
      const { user, token } = registered.body as { user: { id: string }; token: string };
      const orders: string[] = [];
      for (let n = 0; n <= i % 2; n++) {
        expect((await http.request('POST', '/api/v1/cart/items', { token, body: { sku, quantity: 1 + n } })).status).toBe(200);
        const body = { payment: { method: 'card', token: 'tok_visa' }, shippingAddress: { name: 'S', line1: '1 Way', city: 'C', postalCode: '12345', country: 'US' } };
        const answer = await http.request('POST', '/api/v1/checkout', { token, headers: { 'idempotency-key': randomUUID() }, body, parse: true });
        expect(answer.status, JSON.stringify(answer.body)).toBe(201);
        orders.push((answer.body as { id: string }).id);
      }
      bought.set(user.id, orders);
      tokens.set(user.id, token);
      const listed = await http.request('GET', '/api/v1/orders?limit=10', { token, parse: true });
      expect(listed.status).toBe(200);
      expect((listed.body as Page).items.map((o) => o.id).sort()).toEqual([...orders].sort());
    };
    for (let start = 0; start < SHOPPERS; start += CONCURRENCY) {
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, SHOPPERS - start) }, (_, k) => shopper(start + k)));
    }
    const perShard = await Promise.all(shards.map((s) => s.query<{ user_id: string; n: number }>(sql`select user_id::text, count(*)::int as n from orders.orders group by user_id`)));
    for (const rows of perShard) expect(rows.length, 'every shard holds some shoppers').toBeGreaterThan(0);
    const users = perShard.flat().map((r) => r.user_id);
    expect(new Set(users).size, 'no shopper on two shards').toBe(users.length);
    expect(perShard.flat().reduce((n, r) => n + r.n, 0)).toBe([...bought.values()].flat().length);
    expect(await tc.storage.query(sql`select id from orders.orders`)).toEqual([]);
  });

  it('keeps the conservation laws over both shards', async () => {
    const report = await checkInvariants({ inventory: tc.storage, orders: shards, payment: tc.storage, initialStock: new Map([[sku, STOCK]]) });
    expect(report.violations, JSON.stringify(report)).toEqual([]);
    expect(report.ordersByStatus.CONFIRMED).toBe([...bought.values()].flat().length);
  });

  it('moves shoppers onto a third shard while they check out through the cluster: every instance follows the map', async () => {
    let moving = true;
    const statuses: number[] = [];
    const shop = async (userId: string): Promise<void> => {
      const token = tokens.get(userId) ?? '';
      while (moving) {
        statuses.push((await http.request('POST', '/api/v1/cart/items', { token, body: { sku, quantity: 1 } })).status);
        const body = { payment: { method: 'card', token: 'tok_visa' }, shippingAddress: { name: 'S', line1: '1 Way', city: 'C', postalCode: '12345', country: 'US' } };
        const answer = await http.request('POST', '/api/v1/checkout', { token, headers: { 'idempotency-key': randomUUID() }, body, parse: true });
        statuses.push(answer.status);
        if (answer.status === 201) bought.get(userId)?.push((answer.body as { id: string }).id);
      }
    };
    const traffic = Promise.all([...tokens.keys()].slice(0, CONCURRENCY).map(shop));
    try {
      for (const service of ['order', 'cart'] as const) {
        const report = await moveShards({ service, main: tc.storage, change: { kind: 'add', url: databases[2]!.url }, logger: createLogger('move', 'silent') });
        expect(report.toVersion).toBe(2);
      }
    } finally {
      moving = false;
      await traffic;
    }
    expect(statuses.filter((s) => s >= 500), JSON.stringify(statuses)).toEqual([]);
    const third = new PostgresStorage({ url: databases[2]!.url, poolMax: 1 });
    shards.push(third);
    expect((await third.query(sql`select id from orders.orders`)).length, 'the third shard holds orders now').toBeGreaterThan(0);
    for (const [userId, token] of tokens) {
      const listed = await http.request('GET', '/api/v1/orders?limit=100', { token, parse: true });
      expect((listed.body as Page).items.map((o) => o.id).sort(), userId).toEqual([...(bought.get(userId) ?? [])].sort());
    }
    const report = await checkInvariants({ inventory: tc.storage, orders: shards, payment: tc.storage, initialStock: new Map([[sku, STOCK]]) });
    expect(report.violations, JSON.stringify(report)).toEqual([]);
  });
});
