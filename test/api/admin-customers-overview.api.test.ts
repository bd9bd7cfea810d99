import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { identity, order } from '@agora/contracts';
import { sql } from 'drizzle-orm';
import { ORDER_SHARDED_DATA } from '@agora/order';
import { PostgresStorage, copyKeys, deleteKeys } from '@agora/platform';
import { createTestDatabase, natsAvailable, postgresBackend } from '@agora/platform/testing';
import { Shop, expectFieldError, expectProblem, type Order, type Page, type Shopper } from '../support/shop.js';
import { uniqueEmail } from '../support/http.js';
import type { SystemVariant } from '../support/system.js';

/** Order (and cart) shard databases: the admin lists and the figures fan out over both. */
const ORDER_SHARD_COUNT = 2;

const DAY_MS = 24 * 60 * 60 * 1000;
const today = (): string => new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS).toISOString();

/**
 * PostgreSQL with two order shards and NATS (the cluster's shape), where the lists and the figures
 * must fan out and merge. The embedded system (`agora start`, PGlite, one shard) serves the same
 * routes to the browser test (test/browser/admin-overview.test.ts), which checks the figures there.
 */
const variant: SystemVariant = {
  name: 'postgres, 2 order shards, nats',
  backend: postgresBackend,
  nats: true,
  available: async () => (await postgresBackend.available()) && (await natsAvailable()),
};

/**
 * The admin's customers list (search, paging, newest first), a customer's orders across shards,
 * and the overview's figures computed from orders this test places on a fresh database.
 */
describe.runIf(await variant.available())(`admin customers and overview on ${variant.name}`, () => {
  const databases: { url: string; drop(): Promise<void> }[] = [];
  let shop: Shop;
  let tag: string;
  let sku: string;
  let scarce: string;
  let ann: Shopper;
  let ben: Shopper;
  let annsOrders: Order[];
  let failed: Order;
  let day: string;

  /** A customer whose name carries this run's tag, so a search finds exactly ours. */
  const customer = async (name: string): Promise<Shopper> => {
    const email = uniqueEmail(name.toLowerCase());
    const res = await shop.api.post<identity.AuthResult>('/api/v1/auth/register', { email, password: 'correct horse battery', name: `${name} ${tag}` });
    expect(res.status, res.text).toBe(201);
    return { id: res.body.user.id, email, token: res.body.token };
  };

  beforeAll(async () => {
    for (let i = 0; i < ORDER_SHARD_COUNT; i++) databases.push(await createTestDatabase('agora_overview'));
    const urls = databases.map((d) => d.url).join(',');
    shop = await Shop.open(variant, { ORDER_SHARDS: urls, CART_SHARDS: urls, AGORA_SHARD_POOL_MAX: '2' });
    tag = `Qx${Date.now().toString(36)}`;
    day = today();
    sku = await shop.sku(1_250, 100, 'OVW');
    scarce = await shop.sku(900, 3, 'LOW');
    ann = await customer('Ann');
    ben = await customer('Ben');
    // Ann: two confirmed orders (1 x 1 250, then 2 x 1 250); Ben: one declined.
    annsOrders = [await shop.buy(ann, [[sku, 1]]), await shop.buy(ann, [[sku, 2]])];
    await shop.add(ben, sku, 1);
    failed = expectProblem(await shop.checkout(ben, 'tok_declined'), 402, 'PAYMENT_DECLINED').order as Order;
  }, 120_000);

  afterAll(async () => {
    await shop?.stop();
    for (const d of databases) await d.drop();
  });

  const users = async (query: string): Promise<identity.UserPage> => {
    const res = await shop.api.get<identity.UserPage>(`/api/v1/admin/users${query}`, { token: shop.adminToken });
    expect(res.status, res.text).toBe(200);
    return res.body;
  };

  it('lists customers newest first, searched by part of the name or e-mail in any case, a page at a time', async () => {
    const all = await users('');
    expect(all.items.slice(0, 2).map((u) => u.id)).toEqual([ben.id, ann.id]);
    expect(all.items[0]).toMatchObject({ email: ben.email, name: `Ben ${tag}`, role: 'customer' });
    expect(Date.parse(all.items[0]!.createdAt)).toBeGreaterThanOrEqual(Date.parse(all.items[1]!.createdAt));
    // The admin that start-up made is a user too.
    expect(all.items.some((u) => u.role === 'admin')).toBe(true);

    expect((await users(`?q=${tag.toLowerCase()}`)).items.map((u) => u.id)).toEqual([ben.id, ann.id]);
    expect((await users(`?q=${encodeURIComponent(`ANN ${tag}`)}`)).items.map((u) => u.id)).toEqual([ann.id]);
    expect((await users(`?q=${encodeURIComponent(ben.email.slice(0, 12).toUpperCase())}`)).items.map((u) => u.id)).toEqual([ben.id]);
    expect((await users(`?q=${tag}-nobody`)).items).toEqual([]);

    const first = await users(`?q=${tag}&limit=1`);
    expect(first.items.map((u) => u.id)).toEqual([ben.id]);
    expect(first.nextCursor).not.toBeNull();
    const second = await users(`?q=${tag}&limit=1&cursor=${encodeURIComponent(first.nextCursor!)}`);
    expect(second.items.map((u) => u.id)).toEqual([ann.id]);
    expect(second.nextCursor).toBeNull();
  });

  it('refuses bad list parameters naming them, and keeps the list for admins', async () => {
    const admin = { token: shop.adminToken };
    expectFieldError(await shop.api.get(`/api/v1/admin/users?q=${'x'.repeat(201)}`, admin), 'q');
    expectFieldError(await shop.api.get('/api/v1/admin/users?limit=0', admin), 'limit');
    expectFieldError(await shop.api.get('/api/v1/admin/users?cursor=garbage', admin), 'cursor');
    expectProblem(await shop.api.get('/api/v1/admin/users'), 401, 'UNAUTHENTICATED');
    expectProblem(await shop.api.get('/api/v1/admin/users', { token: ann.token }), 403, 'FORBIDDEN');
    expectProblem(await shop.api.get('/api/v1/admin/overview', { token: ann.token }), 403, 'FORBIDDEN');
    expectProblem(await shop.api.get(`/api/v1/admin/orders?userId=${ann.id}`, { token: ben.token }), 403, 'FORBIDDEN');
  });

  it("lists one customer's orders, newest first, a page at a time across the shards", async () => {
    const newestFirst = [...annsOrders].reverse().map((o) => o.id);
    const first = await shop.api.get<Page<Order>>(`/api/v1/admin/orders?userId=${ann.id}&limit=1`, { token: shop.adminToken });
    expect(first.status, first.text).toBe(200);
    expect(first.body.items.map((o) => o.id)).toEqual(newestFirst.slice(0, 1));
    expect(first.body.nextCursor).not.toBeNull();
    const rest = await shop.api.get<Page<Order>>(`/api/v1/admin/orders?userId=${ann.id}&limit=1&cursor=${encodeURIComponent(first.body.nextCursor!)}`, {
      token: shop.adminToken,
    });
    expect(rest.body.items.map((o) => o.id)).toEqual(newestFirst.slice(1));
    const bens = await shop.api.get<Page<Order>>(`/api/v1/admin/orders?userId=${ben.id}`, { token: shop.adminToken });
    expect(bens.body.items.map((o) => o.id)).toEqual([failed.id]);
    const bensConfirmed = await shop.api.get<Page<Order>>(`/api/v1/admin/orders?userId=${ben.id}&status=CONFIRMED`, { token: shop.adminToken });
    expect(bensConfirmed.body.items).toEqual([]);
    expectFieldError(await shop.api.get('/api/v1/admin/orders?userId=not-a-user', { token: shop.adminToken }), 'userId');
  });

  it("adds up today's orders: sales of the confirmed ones, counts by status, conversion; and the SKUs low on stock", async (context) => {
    const res = await shop.api.get<order.AdminOverview>('/api/v1/admin/overview', { token: shop.adminToken });
    expect(res.status, res.text).toBe(200);
    // Orders placed before midnight UTC are yesterday's: a run that crossed it has nothing to check.
    if (res.body.since !== day) context.skip();
    const overview = res.body;
    const count = (status: order.OrderStatus) => overview.orders.byStatus.find((s) => s.status === status)?.count;
    expect(count('CONFIRMED')).toBe(2);
    expect(count('PAYMENT_FAILED')).toBe(1);
    expect(count('PENDING')).toBe(0);
    expect(overview.orders.total).toBe(3);
    expect(overview.sales).toEqual([{ amount: 1_250 * 3, currency: 'USD' }]);
    expect(overview.conversion).toEqual({ attempted: 3, confirmed: 2, rate: 2 / 3 });
    expect(overview.stockAlerts.threshold).toBe(5);
    expect(overview.stockAlerts.items).toEqual([{ sku: scarce, onHand: 3, reserved: 0, available: 3 }]);
    expect(overview.stockAlerts.more).toBe(false);

    const stricter = await shop.api.get<order.AdminOverview>('/api/v1/admin/overview?lowStockAt=2', { token: shop.adminToken });
    expect(stricter.body.stockAlerts).toEqual({ threshold: 2, items: [], more: false });
    const looser = await shop.api.get<order.AdminOverview>('/api/v1/admin/overview?lowStockAt=97', { token: shop.adminToken });
    expect(looser.body.stockAlerts.items.map((s) => s.sku)).toEqual([scarce, sku]);
    expectFieldError(await shop.api.get('/api/v1/admin/overview?lowStockAt=-1', { token: shop.adminToken }), 'lowStockAt');
  });

  it("counts a shopper's orders once while a move has copied them to the other shard", async (context) => {
    const shards = databases.map((d) => new PostgresStorage({ url: d.url, poolMax: 1 }));
    try {
      const holds = await Promise.all(shards.map(async (s) => (await s.query<{ n: number }>(sql`select count(*)::int as n from orders.orders where user_id = ${ann.id}::uuid`))[0]!.n));
      const owner = holds.findIndex((n) => n > 0);
      expect(holds.filter((n) => n > 0)).toEqual([2]);
      const [from, to] = [shards[owner]!, shards[1 - owner]!];
      const before = (await shop.api.get<order.AdminOverview>('/api/v1/admin/overview', { token: shop.adminToken })).body;
      await copyKeys(from, to, ORDER_SHARDED_DATA, [ann.id]);
      try {
        const during = (await shop.api.get<order.AdminOverview>('/api/v1/admin/overview', { token: shop.adminToken })).body;
        if (during.since !== before.since) context.skip();
        expect(during.orders).toEqual(before.orders);
        expect(during.sales).toEqual(before.sales);
        const listed = await shop.api.get<Page<Order>>(`/api/v1/admin/orders?userId=${ann.id}&limit=1`, { token: shop.adminToken });
        const rest = await shop.api.get<Page<Order>>(`/api/v1/admin/orders?userId=${ann.id}&cursor=${encodeURIComponent(listed.body.nextCursor ?? '')}`, { token: shop.adminToken });
        expect([...listed.body.items, ...rest.body.items].map((o) => o.id)).toEqual([...annsOrders].reverse().map((o) => o.id));
      } finally {
        await deleteKeys(to, ORDER_SHARDED_DATA, [ann.id]);
      }
    } finally {
      for (const s of shards) await s.close();
    }
  });
});
