import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStorage, TIERED_CACHE_DEFAULTS, connectNatsEventBus, createLogger, type EventBus, type Storage } from '@agora/platform';
import {
  TEST_NATS_URL,
  TEST_REDIS_URL,
  createTestDatabase,
  deleteNatsStream,
  deleteRedisKeys,
  natsAvailable,
  postgresBackend,
  redisAvailable,
  uniqueNatsNames,
  uniqueRedisPrefix,
} from '@agora/platform/testing';
import { catalogModule } from '../src/index.js';
import { FakeInventory, STOREFRONT, createProduct, readPage, readProduct, startCatalog, stockFact, within, type CatalogInstance } from './storefront-support.js';

/** The promise of docs/caching.md: a change reaches every instance's cache within a second. */
const STALENESS_BOUND_MS = 1_000;
/** Longer than the stale bound: an entry still served from L1 after this is held in trusted mode. */
const TRUSTED_HOLD_MS = 1_300;
/** Nothing listens here: a Redis that is down. */
const DEAD_REDIS_URL = 'redis://127.0.0.1:1';

const available = (await postgresBackend.available()) && (await redisAvailable()) && (await natsAvailable());

async function loadsOf(instance: CatalogInstance): Promise<number> {
  const match = /agora_cache_loads_total\{cache="catalog-products",outcome="found"\} (\d+)/.exec(await instance.metrics.text());
  return Number(match?.[1] ?? 0);
}

describe.runIf(available)('two catalog instances sharing PostgreSQL, Redis and NATS', () => {
  const names = uniqueNatsNames('catalog_cache');
  const prefix = uniqueRedisPrefix();
  const logger = createLogger('test', 'silent');
  const inventory = new FakeInventory();
  const storages: Storage[] = [];
  const buses: EventBus[] = [];
  let dropDatabase: () => Promise<void>;
  let url: string;
  let a: CatalogInstance;
  let b: CatalogInstance;
  let publisher: EventBus;

  async function instance(redisUrl: string): Promise<CatalogInstance> {
    const storage = new PostgresStorage({ url });
    storages.push(storage);
    const bus = await connectNatsEventBus({ url: TEST_NATS_URL, logger, ...names });
    buses.push(bus);
    return startCatalog({ storage, bus, inventory, env: { REDIS_URL: redisUrl, AGORA_CACHE_PREFIX: prefix } });
  }

  beforeAll(async () => {
    const db = await createTestDatabase('agora_catalog_cache');
    url = db.url;
    dropDatabase = db.drop;
    const migrator = new PostgresStorage({ url });
    await migrator.migrate('catalog', catalogModule.migrationsFolder ?? '');
    await migrator.close();
    a = await instance(TEST_REDIS_URL);
    b = await instance(TEST_REDIS_URL);
    publisher = await connectNatsEventBus({ url: TEST_NATS_URL, logger, ...names });
    buses.push(publisher);
  });

  afterAll(async () => {
    for (const i of [a, b]) await i.stop();
    for (const bus of buses) await bus.close();
    for (const storage of storages) await storage.close();
    await deleteNatsStream(names.stream);
    await deleteRedisKeys(prefix);
    await dropDatabase();
  });

  it('a product changed through one instance is served changed by the other within a second', async () => {
    const created = await createProduct(a);
    inventory.levels.set(created.variants[0]?.sku ?? '', 9);
    // The create's second invalidation (docs/caching.md) would drop what B reads before it.
    await new Promise((r) => setTimeout(r, TIERED_CACHE_DEFAULTS.secondDeleteDelayMs + 100));
    expect((await readProduct(b.app, created.id)).name).toBe(created.name);
    const loads = await loadsOf(b);
    // Held past the stale bound without a reload: only the invalidation can make it change now.
    await new Promise((r) => setTimeout(r, TRUSTED_HOLD_MS));
    expect((await readProduct(b.app, created.id)).name).toBe(created.name);
    expect(await loadsOf(b)).toBe(loads);

    await a.service.update(created.id, { name: 'Changed Through A' });
    const tookMs = await within(STALENESS_BOUND_MS, async () => (await readProduct(b.app, created.id)).name === 'Changed Through A');
    expect(tookMs).toBeLessThanOrEqual(STALENESS_BOUND_MS);
  });

  it('a stock fact on the bus changes available on both instances within a second', async () => {
    const created = await createProduct(a);
    const sku = created.variants[0]?.sku ?? '';
    inventory.levels.set(sku, 5);
    await new Promise((r) => setTimeout(r, TIERED_CACHE_DEFAULTS.secondDeleteDelayMs + 100));
    expect((await readProduct(a.app, created.id)).variants[0]?.available).toBe(5);
    expect((await readProduct(b.app, created.id)).variants[0]?.available).toBe(5);
    inventory.levels.set(sku, 4);
    // Both now answer from L1: without the fact they would say 5 for a minute.
    expect((await readProduct(b.app, created.id)).variants[0]?.available).toBe(5);
    await publisher.publish(stockFact(sku, 4));
    for (const i of [a, b]) {
      await within(STALENESS_BOUND_MS, async () => (await readProduct(i.app, created.id)).variants[0]?.available === 4);
    }
  });

  it('a page read on one instance shows a product created through the other within a second', async () => {
    const category = `cluster-${Date.now().toString(36)}`;
    const first = await createProduct(a, { category });
    expect((await readPage(b.app, `category=${category}`)).items.map((p) => p.id)).toEqual([first.id]);
    const second = await createProduct(a, { category });
    await within(STALENESS_BOUND_MS, async () => (await readPage(b.app, `category=${category}`)).items.length === 2);
    expect((await readPage(b.app, `category=${category}`)).items.map((p) => p.id)).toEqual([second.id, first.id]);
  });

  it('an instance whose Redis does not answer serves from L1 and the database, never a 5xx', async () => {
    const c = await instance(DEAD_REDIS_URL);
    try {
      const created = await createProduct(c);
      inventory.levels.set(created.variants[0]?.sku ?? '', 2);
      for (let i = 0; i < 3; i++) expect((await readProduct(c.app, created.id)).variants[0]?.available).toBe(2);
      await c.service.update(created.id, { name: 'Changed Without Redis' });
      expect((await readProduct(c.app, created.id)).name).toBe('Changed Without Redis');
      const page = await c.app.inject({ method: 'GET', url: '/products?limit=5', headers: STOREFRONT });
      expect(page.statusCode).toBe(200);
      expect(await c.metrics.text()).toMatch(/agora_cache_l2_errors_total\{cache="catalog-products",operation="read"\} [1-9]/);
    } finally {
      await c.stop();
    }
  });
});
