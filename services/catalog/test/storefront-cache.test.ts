import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryEventBus, createLogger, type Storage } from '@agora/platform';
import { pgliteBackend } from '@agora/platform/testing';
import { catalogModule } from '../src/index.js';
import { FakeInventory, STOREFRONT, createProduct, readPage, readProduct, startCatalog, stockFact, within, type CatalogInstance } from './storefront-support.js';

/** In one process a stock fact reaches the cache through the in-memory bus at once; 1 s is the promise. */
const STALENESS_BOUND_MS = 1_000;

describe('storefront reads in one process (cache on, in-memory bus, embedded storage)', () => {
  let storage: Storage;
  let release: () => Promise<void>;
  let bus: InMemoryEventBus;
  let inventory: FakeInventory;
  let catalog: CatalogInstance;

  beforeAll(async () => {
    const opened = await pgliteBackend.open();
    storage = opened.storage;
    release = opened.release;
    await storage.migrate('catalog', catalogModule.migrationsFolder ?? '');
    bus = new InMemoryEventBus({ logger: createLogger('bus', 'silent') });
    inventory = new FakeInventory();
    catalog = await startCatalog({ storage, bus, inventory, env: {} });
  });
  afterEach(() => {
    inventory.down = false;
  });
  afterAll(async () => {
    await catalog.stop();
    await bus.close();
    await release();
  });

  it('answers a product with available per variant, the second read from memory', async () => {
    const created = await createProduct(catalog, { category: 'lamps' });
    const sku = created.variants[0]?.sku ?? '';
    inventory.levels.set(sku, 7);
    expect((await readProduct(catalog.app, created.id)).variants[0]).toMatchObject({ sku, available: 7 });
    const callsAfterFirst = inventory.calls;
    expect((await readProduct(catalog.app, created.id)).variants[0]?.available).toBe(7);
    expect(inventory.calls).toBe(callsAfterFirst);
    expect(await catalog.metrics.text()).toMatch(/agora_cache_requests_total\{cache="catalog-products",tier="l1",result="hit"\} [1-9]/);
  });

  it('a write through this instance is read back at once', async () => {
    const created = await createProduct(catalog);
    await readProduct(catalog.app, created.id);
    await catalog.service.update(created.id, { name: 'Renamed Lamp' });
    expect((await readProduct(catalog.app, created.id)).name).toBe('Renamed Lamp');
  });

  it('a stock fact on the bus reaches the product within the staleness bound', async () => {
    const created = await createProduct(catalog);
    const sku = created.variants[0]?.sku ?? '';
    inventory.levels.set(sku, 3);
    expect((await readProduct(catalog.app, created.id)).variants[0]?.available).toBe(3);
    inventory.levels.set(sku, 2);
    await bus.publish(stockFact(sku, 2));
    await within(STALENESS_BOUND_MS, async () => (await readProduct(catalog.app, created.id)).variants[0]?.available === 2);
  });

  it('answers 404 for a product that does not exist, and keeps answering it from memory', async () => {
    const missing = '01900000-0000-7000-8000-00000000dead';
    for (let i = 0; i < 2; i++) {
      const res = await catalog.app.inject({ method: 'GET', url: `/products/${missing}`, headers: STOREFRONT });
      expect(res.statusCode).toBe(404);
    }
    expect(await catalog.metrics.text()).toMatch(/agora_cache_loads_total\{cache="catalog-products",outcome="absent"\} 1\b/);
  });

  it('without inventory, serves the product without available and caches nothing', async () => {
    const created = await createProduct(catalog);
    inventory.levels.set(created.variants[0]?.sku ?? '', 5);
    inventory.down = true;
    const degraded = await readProduct(catalog.app, created.id);
    expect(degraded.variants[0]).not.toHaveProperty('available');
    inventory.down = false;
    expect((await readProduct(catalog.app, created.id)).variants[0]?.available).toBe(5);
  });

  it('pages: the items with availability, and a new product in the category shows up on the next read', async () => {
    const category = `page-${Date.now().toString(36)}`;
    const first = await createProduct(catalog, { category });
    const query = `category=${category}&limit=5`;
    const before = await readPage(catalog.app, query);
    expect(before.items.map((p) => p.id)).toEqual([first.id]);
    expect(before.items[0]?.variants[0]).toHaveProperty('available');
    const second = await createProduct(catalog, { category });
    expect((await readPage(catalog.app, query)).items.map((p) => p.id)).toEqual([second.id, first.id]);
    await catalog.service.update(first.id, { name: 'Moved Lamp' });
    expect((await readPage(catalog.app, query)).items[1]?.name).toBe('Moved Lamp');
  });

  it('a caller that does not ask for availability gets the catalog product as before', async () => {
    const created = await createProduct(catalog);
    const res = await catalog.app.inject({ method: 'GET', url: `/products/${created.id}` });
    expect(res.statusCode).toBe(200);
    expect(res.json().variants[0]).not.toHaveProperty('available');
  });
});

describe('storefront reads with the cache off (AGORA_CATALOG_CACHE=off)', () => {
  it('answers the same products, each read from the database and inventory', async () => {
    const opened = await pgliteBackend.open();
    await opened.storage.migrate('catalog', catalogModule.migrationsFolder ?? '');
    const bus = new InMemoryEventBus({ logger: createLogger('bus', 'silent') });
    const inventory = new FakeInventory();
    const catalog = await startCatalog({ storage: opened.storage, bus, inventory, env: { AGORA_CATALOG_CACHE: 'off' } });
    try {
      const created = await createProduct(catalog);
      inventory.levels.set(created.variants[0]?.sku ?? '', 4);
      expect((await readProduct(catalog.app, created.id)).variants[0]?.available).toBe(4);
      inventory.levels.set(created.variants[0]?.sku ?? '', 1);
      expect((await readProduct(catalog.app, created.id)).variants[0]?.available).toBe(1);
      expect(inventory.calls).toBe(2);
      const page = await readPage(catalog.app, 'limit=5');
      expect(page.items.find((p) => p.id === created.id)?.variants[0]?.available).toBe(1);
      expect(inventory.calls).toBe(3);
      expect(await catalog.metrics.text()).not.toMatch(/agora_cache_requests_total\{/);
    } finally {
      await catalog.stop();
      await bus.close();
      await opened.release();
    }
  });
});
