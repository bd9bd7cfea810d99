import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvReader, ManualClock, newId, type Money } from '@agora/kernel';
import { catalog } from '@agora/contracts';
import {
  InProcessTransport,
  Metrics,
  TokenService,
  createHttpApp,
  createLogger,
  SingleShardRouter,
  type Caller,
  type HttpApp,
  type RunningService,
  type Storage, InMemoryEventBus } from '@agora/platform';
import { guardForTests, injectAs, testBackends, type AssertedInjectOptions } from '@agora/platform/testing';
import { CHECKED_OUT_RETENTION_MS, CartStore, cartModule } from '../src/index.js';

interface CartBody {
  items: { sku: string; productId: string; productName: string; title: string; quantity: number; unitPrice: Money; lineTotal: Money }[];
  subtotal: Money;
  itemCount: number;
  unavailable: { sku: string; quantity: number; reason: string }[];
}
interface ProblemBody {
  code: string;
  status: number;
  errors?: { path: string; message: string }[];
}

const PRODUCT_ID = '01900000-0000-7000-8000-0000000000aa';
const usd = (amount: number): Money => ({ amount, currency: 'USD' });

/** A stand-in catalog: the real route shape (`GET /products/by-sku`) over a map the tests change. */
function fakeCatalog(): { app: HttpApp; variants: Map<string, catalog.SkuVariant>; calls: () => number } {
  const variants = new Map<string, catalog.SkuVariant>();
  let calls = 0;
  const app = createHttpApp({ name: 'catalog', logger: createLogger('catalog', 'silent') });
  app.get('/products/by-sku', { schema: { querystring: catalog.SkuLookupQuery, response: { 200: catalog.SkuVariantList } } }, async (request) => {
    calls++;
    const skus = request.query.skus.split(',');
    return { items: skus.flatMap((sku) => variants.get(sku) ?? []) };
  });
  return { app, variants, calls: () => calls };
}

let userCounter = 0;
const newUser = (): Caller => ({ userId: newId(), role: 'customer' });
const sku = (tag: string): string => `C-${tag}-${++userCounter}`;

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`cart on ${backend.kind}`, () => {
    let service: RunningService;
    let app: HttpApp;
    /** A request as the gateway sends it: with a caller assertion for `options.caller` (none: anonymous). */
    const send = (options: AssertedInjectOptions) => injectAs(app, 'cart', options);
    let storage: Storage;
    let release: () => Promise<void>;
    const shop = fakeCatalog();
    const clock = new ManualClock();

    const offer = (code: string, amount = 1999, currency = 'USD'): string => {
      shop.variants.set(code, { sku: code, productId: PRODUCT_ID, productName: `Product ${code}`, title: `Variant ${code}`, price: { amount, currency } });
      return code;
    };

    beforeAll(async () => {
      const opened = await backend.open();
      release = opened.release;
      storage = opened.storage;
      await opened.storage.migrate('cart', cartModule.migrationsFolder ?? '');
      const transport = new InProcessTransport();
      transport.register('catalog', shop.app);
      service = await cartModule.create({
        storage: opened.storage,
        logger: createLogger('cart', 'silent'),
        metrics: new Metrics(false),
        clock,
        env: new EnvReader({}),
        transport,
        tokens: new TokenService('x'.repeat(32)),
        bus: new InMemoryEventBus({ logger: createLogger('bus', 'silent') }),
      });
      await service.start();
      app = service.app;
      guardForTests(app, 'cart');
    });
    afterAll(async () => {
      await service.stop();
      await shop.app.close();
      await release();
    });

    const get = async (user: Caller): Promise<CartBody> => {
      const res = await send({ method: 'GET', url: '/cart', caller: user });
      expect(res.statusCode).toBe(200);
      return res.json();
    };
    const add = (user: Caller, code: unknown, quantity: unknown) =>
      send({ method: 'POST', url: '/cart/items', caller: user, payload: { sku: code, quantity } });
    const patch = (user: Caller, code: string, quantity: unknown) =>
      send({ method: 'PATCH', url: `/cart/items/${code}`, caller: user, payload: { quantity } });
    const remove = (user: Caller, code: string) => send({ method: 'DELETE', url: `/cart/items/${code}`, caller: user });
    const quantities = (cart: CartBody): Record<string, number> => Object.fromEntries(cart.items.map((i) => [i.sku, i.quantity]));

    it('an empty cart has a zero USD subtotal and needs no catalog call', async () => {
      const before = shop.calls();
      expect(await get(newUser())).toEqual({ items: [], subtotal: usd(0), itemCount: 0, unavailable: [] });
      expect(shop.calls()).toBe(before);
    });

    it('needs a caller, before looking at the body', async () => {
      expect((await send({ method: 'GET', url: '/cart' })).statusCode).toBe(401);
      expect((await send({ method: 'POST', url: '/cart/items', payload: { quantity: 'x' } })).statusCode).toBe(401);
      expect((await send({ method: 'GET', url: '/cart', caller: { userId: 'not-a-user', role: 'customer' } })).statusCode).toBe(401);
    });

    it('adds, merges and prices lines from the catalog', async () => {
      const user = newUser();
      const [a, b] = [offer(sku('a'), 1999), offer(sku('b'), 250)];
      const first = await add(user, a, 2);
      expect(first.statusCode).toBe(200);
      expect(first.json()).toEqual({
        items: [{ sku: a, productId: PRODUCT_ID, productName: `Product ${a}`, title: `Variant ${a}`, quantity: 2, unitPrice: usd(1999), lineTotal: usd(3998) }],
        subtotal: usd(3998),
        itemCount: 2,
        unavailable: [],
      });
      expect((await add(user, b, 4)).statusCode).toBe(200);
      const merged = (await add(user, a, 1)).json() as CartBody;
      expect(quantities(merged)).toEqual({ [a]: 3, [b]: 4 });
      expect(merged.subtotal).toEqual(usd(3 * 1999 + 4 * 250));
      expect(merged.itemCount).toBe(7);

      // Prices are the catalog's at every read.
      offer(a, 1000);
      expect((await get(user)).subtotal).toEqual(usd(3 * 1000 + 4 * 250));
    });

    it('refuses bad quantities naming the field, and a merge past 99', async () => {
      const user = newUser();
      const a = offer(sku('q'));
      for (const quantity of [0, 100, 1.5, '3', null, -1]) {
        const res = await add(user, a, quantity);
        expect(res.statusCode, String(quantity)).toBe(400);
        expect((res.json() as ProblemBody).errors?.[0]?.path).toBe('quantity');
      }
      const noSku = await send({ method: 'POST', url: '/cart/items', caller: user, payload: { quantity: 1 } });
      expect((noSku.json() as ProblemBody).errors?.[0]?.path).toBe('sku');
      expect((await add(user, a, 99)).statusCode).toBe(200);
      const over = await add(user, a, 1);
      expect(over.statusCode).toBe(400);
      expect(over.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'quantity' }] });
      expect(quantities(await get(user))).toEqual({ [a]: 99 });
    });

    it('answers 404 for a SKU the catalog does not sell', async () => {
      const user = newUser();
      const res = await add(user, sku('missing'), 1);
      expect(res.statusCode).toBe(404);
      expect((res.json() as ProblemBody).code).toBe('NOT_FOUND');
      expect((await get(user)).items).toEqual([]);
    });

    it('updates and removes lines: 0 removes, an absent SKU is 404 on PATCH and 200 on DELETE', async () => {
      const user = newUser();
      const [a, b] = [offer(sku('u')), offer(sku('v'))];
      await add(user, a, 1);
      await add(user, b, 1);
      const set = await patch(user, a, 7);
      expect(set.statusCode).toBe(200);
      expect(quantities(set.json())).toEqual({ [a]: 7, [b]: 1 });
      expect((await patch(user, a, 100)).statusCode).toBe(400);
      expect((await patch(user, a, 2.5)).statusCode).toBe(400);
      const zero = await patch(user, b, 0);
      expect(zero.statusCode).toBe(200);
      expect(quantities(zero.json())).toEqual({ [a]: 7 });
      expect((await patch(user, b, 3)).statusCode).toBe(404);
      expect((await patch(user, b, 0)).statusCode).toBe(404);
      expect((await patch(newUser(), a, 1)).statusCode).toBe(404);

      const removed = await remove(user, a);
      expect(removed.statusCode).toBe(200);
      expect((removed.json() as CartBody).items).toEqual([]);
      expect((await remove(user, a)).statusCode).toBe(200);
      expect((await remove(newUser(), a)).statusCode).toBe(200);
    });

    it('holds at most 100 distinct lines (400 naming sku) but still merges into a full cart', async () => {
      const user = newUser();
      const codes = Array.from({ length: 100 }, (_, i) => offer(sku(`l${i}`), 100));
      for (const code of codes) expect((await add(user, code, 1)).statusCode).toBe(200);
      const extra = await add(user, offer(sku('extra')), 1);
      expect(extra.statusCode).toBe(400);
      expect(extra.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'sku' }] });
      expect((await add(user, codes[0], 2)).statusCode).toBe(200);
      const full = await get(user);
      expect(full.items).toHaveLength(100);
      expect(full.itemCount).toBe(102);
      expect(full.subtotal).toEqual(usd(102 * 100));
    });

    it('keeps a SKU the catalog dropped, outside items and subtotal', async () => {
      const user = newUser();
      const [a, b] = [offer(sku('keep'), 500), offer(sku('gone'), 700)];
      await add(user, a, 1);
      await add(user, b, 2);
      shop.variants.delete(b);
      const cart = await get(user);
      expect(cart.items.map((i) => i.sku)).toEqual([a]);
      expect(cart.subtotal).toEqual(usd(500));
      expect(cart.itemCount).toBe(1);
      expect(cart.unavailable).toEqual([{ sku: b, quantity: 2, reason: 'NOT_IN_CATALOG' }]);
      offer(b, 700);
      expect((await get(user)).items).toHaveLength(2);
    });

    it('removes checked-out quantities once per order id; lines added meanwhile survive', async () => {
      const user = newUser();
      const [a, b, c] = [offer(sku('co-a')), offer(sku('co-b')), offer(sku('co-c'))];
      await add(user, a, 3);
      await add(user, b, 2);
      // Checkout began with a:3, b:2; then the shopper added one more b and a new c.
      await add(user, b, 1);
      await add(user, c, 1);
      const orderId = newId();
      const lines = [
        { sku: a, quantity: 3 },
        { sku: b, quantity: 2 },
      ];
      const done = await send({ method: 'POST', url: '/cart/checked-out', caller: user, payload: { orderId, lines } });
      expect(done.statusCode).toBe(200);
      expect(done.json()).toEqual({
        orderId,
        applied: true,
        lines: expect.arrayContaining([
          { sku: b, quantity: 1 },
          { sku: c, quantity: 1 },
        ]),
      });
      expect(quantities(await get(user))).toEqual({ [b]: 1, [c]: 1 });
      const retry = await send({ method: 'POST', url: '/cart/checked-out', caller: user, payload: { orderId, lines } });
      expect(retry.statusCode).toBe(200);
      expect(retry.json()).toMatchObject({ orderId, applied: false });
      expect(quantities(await get(user))).toEqual({ [b]: 1, [c]: 1 });
      const rawLines = await send({ method: 'GET', url: '/cart/lines', caller: user });
      expect(rawLines.json()).toEqual({ lines: expect.arrayContaining([{ sku: b, quantity: 1 }, { sku: c, quantity: 1 }]) });
      // A checkout for a user with no cart is recorded all the same.
      expect((await send({ method: 'POST', url: '/cart/checked-out', caller: newUser(), payload: { orderId: newId(), lines } })).json()).toMatchObject({
        applied: true,
        lines: [],
      });
    });

    it('forgets applied order ids after the retention period', async () => {
      const user = newUser();
      const a = offer(sku('prune'));
      const orderId = newId();
      const checkedOut = () =>
        send({ method: 'POST', url: '/cart/checked-out', caller: user, payload: { orderId, lines: [{ sku: a, quantity: 1 }] } });
      expect((await checkedOut()).json()).toMatchObject({ applied: true });
      const store = new CartStore(new SingleShardRouter(storage));
      expect(await store.pruneCheckedOut(new Date(clock.now().getTime() - CHECKED_OUT_RETENTION_MS))).toBe(0);
      expect((await checkedOut()).json()).toMatchObject({ applied: false });
      expect(await store.pruneCheckedOut(new Date(clock.now().getTime() + 1))).toBeGreaterThanOrEqual(1);
      expect((await checkedOut()).json()).toMatchObject({ applied: true });
    });

    it("never shows or changes another user's cart", async () => {
      const [alice, bob] = [newUser(), newUser()];
      const a = offer(sku('iso'));
      await add(alice, a, 5);
      expect((await get(bob)).items).toEqual([]);
      expect((await patch(bob, a, 1)).statusCode).toBe(404);
      await remove(bob, a);
      await send({ method: 'POST', url: '/cart/checked-out', caller: bob, payload: { orderId: newId(), lines: [{ sku: a, quantity: 5 }] } });
      expect(quantities(await get(alice))).toEqual({ [a]: 5 });
    });

    it('counts every one of concurrent adds of the same SKU', async () => {
      const user = newUser();
      const a = offer(sku('race'));
      const results = await Promise.all(Array.from({ length: 30 }, () => add(user, a, 1)));
      expect(results.map((r) => r.statusCode).filter((s) => s !== 200)).toEqual([]);
      expect(quantities(await get(user))).toEqual({ [a]: 30 });

      const b = offer(sku('race-cap'));
      const capped = await Promise.all(Array.from({ length: 12 }, () => add(user, b, 10)));
      expect(capped.filter((r) => r.statusCode === 200)).toHaveLength(9);
      expect(capped.filter((r) => r.statusCode === 400)).toHaveLength(3);
      expect(quantities(await get(user))[b]).toBe(90);
    });

    it('keeps the 100-line limit under concurrent adds of different SKUs', async () => {
      const user = newUser();
      for (let i = 0; i < 95; i++) expect((await add(user, offer(sku(`pre${i}`), 1), 1)).statusCode).toBe(200);
      const fresh = Array.from({ length: 20 }, (_, i) => offer(sku(`new${i}`), 1));
      const results = await Promise.all(fresh.map((code) => add(user, code, 1)));
      expect(results.filter((r) => r.statusCode === 200)).toHaveLength(5);
      expect(results.filter((r) => r.statusCode === 400)).toHaveLength(15);
      expect((await get(user)).items).toHaveLength(100);
    });
  });
}
