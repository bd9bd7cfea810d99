import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { EnvReader, ManualClock, newId } from '@agora/kernel';
import { catalog } from '@agora/contracts';
import {
  InProcessTransport,
  Metrics,
  TokenService,
  createHttpApp,
  createLogger,
  type Caller,
  type HttpApp,
  type RunningService,
  type Shard,
  type ShardRouter,
  type Storage, InMemoryEventBus } from '@agora/platform';
import { guardForTests, injectAs, postgresBackend } from '@agora/platform/testing';
import { CART_MIGRATIONS, createCartService } from '../src/index.js';

/** Two shards split by the last hex digit of the user id: enough to prove no query escapes the router. */
class ParityRouter implements ShardRouter {
  readonly version = 1;
  constructor(private readonly shards: readonly [Shard, Shard]) {}
  shardFor(key: string): Shard {
    return Number.parseInt(key.slice(-1), 16) % 2 === 0 ? this.shards[0] : this.shards[1];
  }
  all(): readonly Shard[] {
    return this.shards;
  }
}

/**
 * Real separate databases, so PostgreSQL only: a second embedded PGlite per test file would cost
 * hundreds of MB for what the single-shard suite already covers on PGlite.
 */
describe.runIf(await postgresBackend.available())('cart over two shards on postgres', () => {
  const opened: { storage: Storage; release(): Promise<void> }[] = [];
  let service: RunningService;
  let app: HttpApp;
  const catalogApp = createHttpApp({ name: 'catalog', logger: createLogger('catalog', 'silent') });
  catalogApp.get('/products/by-sku', { schema: { querystring: catalog.SkuLookupQuery } }, async (request) => ({
    items: request.query.skus.split(',').map((sku) => ({ sku, productId: newId(), productName: 'P', title: 'T', price: { amount: 100, currency: 'USD' } })),
  }));

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const storage = await postgresBackend.open();
      await storage.storage.migrate('cart', CART_MIGRATIONS);
      opened.push(storage);
    }
    const [s0, s1] = opened;
    if (!s0 || !s1) throw new Error('two shards expected');
    const transport = new InProcessTransport();
    transport.register('catalog', catalogApp);
    service = await createCartService(
      {
        storage: s0.storage,
        logger: createLogger('cart', 'silent'),
        metrics: new Metrics(false),
        clock: new ManualClock(),
        env: new EnvReader({}),
        transport,
        tokens: new TokenService('x'.repeat(32)),
        bus: new InMemoryEventBus({ logger: createLogger('bus', 'silent') }),
      },
      new ParityRouter([
        { id: 's0', storage: s0.storage },
        { id: 's1', storage: s1.storage },
      ]),
    );
    app = service.app;
    guardForTests(app, 'cart');
  });
  afterAll(async () => {
    await service.stop();
    await catalogApp.close();
    for (const o of opened) await o.release();
  });

  const userEndingIn = (digit: string): string => `${newId().slice(0, -1)}${digit}`;
  const cartRows = async (storage: Storage | undefined, userId: string): Promise<number> => {
    if (!storage) throw new Error('shard missing');
    return (await storage.query<{ n: number }>(sql`select count(*)::int as n from cart.cart_lines where user_id = ${userId}`))[0]?.n ?? -1;
  };

  it("keeps each user's cart on that user's shard, for every operation", async () => {
    const even = userEndingIn('2');
    const odd = userEndingIn('3');
    for (const userId of [even, odd]) {
      const caller: Caller = { userId, role: 'customer' };
      expect((await injectAs(app, 'cart', { method: 'POST', url: '/cart/items', caller, payload: { sku: 'S-1', quantity: 2 } })).statusCode).toBe(200);
      expect((await injectAs(app, 'cart', { method: 'POST', url: '/cart/items', caller, payload: { sku: 'S-2', quantity: 1 } })).statusCode).toBe(200);
      expect((await injectAs(app, 'cart', { method: 'PATCH', url: '/cart/items/S-1', caller, payload: { quantity: 5 } })).statusCode).toBe(200);
      const done = await injectAs(app, 'cart', { method: 'POST', url: '/cart/checked-out', caller, payload: { orderId: newId(), lines: [{ sku: 'S-2', quantity: 1 }] } });
      expect(done.json()).toMatchObject({ applied: true, lines: [{ sku: 'S-1', quantity: 5 }] });
      const cart = await injectAs(app, 'cart', { method: 'GET', url: '/cart', caller });
      expect(cart.json()).toMatchObject({ itemCount: 5, items: [{ sku: 'S-1', quantity: 5 }] });
    }
    const [s0, s1] = opened.map((o) => o.storage);
    expect([await cartRows(s0, even), await cartRows(s1, even)]).toEqual([1, 0]);
    expect([await cartRows(s0, odd), await cartRows(s1, odd)]).toEqual([0, 1]);
    expect(service.readiness.map((r) => r.name)).toEqual(['database:s0', 'database:s1']);
  });
});
