import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '@agora/kernel';
import { pgliteBackend } from '@agora/platform/testing';
import type { Storage } from '@agora/platform';
import { CatalogService, CatalogStore, catalogModule } from '../src/index.js';
import type { CatalogRepository, VariantWithProduct } from '../src/app/ports.js';
import { VARIANT_CACHE_TTL_MS, VariantCache } from '../src/app/variant-cache.js';
import { uniqueSku } from './harness.js';

/** The real store, counting the by-SKU reads that reach the database. */
function counting(store: CatalogStore): { repository: CatalogRepository; reads: () => number } {
  let reads = 0;
  const repository: CatalogRepository = {
    list: (listing) => store.list(listing),
    count: (match) => store.count(match),
    get: (id) => store.get(id),
    getMany: (ids) => store.getMany(ids),
    insert: (product) => store.insert(product),
    update: (id, changes) => store.update(id, changes),
    variantsBySku: (skus) => {
      reads++;
      return store.variantsBySku(skus);
    },
    categories: () => store.categories(),
    setImage: (id, image, files, at) => store.setImage(id, image, files, at),
    imageFile: (id, version, width) => store.imageFile(id, version, width),
    related: (product, limit) => store.related(product, limit),
  };
  return { repository, reads: () => reads };
}

describe('the catalog serves by-SKU lookups from a short-lived cache', () => {
  let storage: Storage;
  let release: () => Promise<void>;
  let service: CatalogService;
  let reads: () => number;
  const clock = new ManualClock(new Date('2026-03-01T12:00:00Z'));

  beforeAll(async () => {
    const opened = await pgliteBackend.open();
    storage = opened.storage;
    release = opened.release;
    await storage.migrate('catalog', catalogModule.migrationsFolder ?? '');
    const counted = counting(new CatalogStore(storage));
    reads = counted.reads;
    service = new CatalogService(counted.repository, clock);
  });
  afterAll(async () => {
    await release();
  });

  const lamp = async (amount: number) => {
    const sku = uniqueSku('CACHE');
    const product = await service.create({
      name: 'Cached Lamp',
      description: 'A lamp the cache remembers',
      category: 'test-things',
      variants: [{ sku, title: 'Standard', price: { amount, currency: 'USD' } }],
    });
    return { sku, product };
  };
  const priceOf = async (sku: string): Promise<number | undefined> => (await service.bySkus(sku)).items[0]?.price.amount;

  it('answers a repeated lookup without a query', async () => {
    const { sku } = await lamp(1000);
    const before = reads();
    expect(await priceOf(sku)).toBe(1000);
    expect(reads()).toBe(before + 1);
    expect(await priceOf(sku)).toBe(1000);
    expect(await service.bySkus(`${sku},${sku}`)).toMatchObject({ items: [{ sku, price: { amount: 1000 } }] });
    expect(reads()).toBe(before + 1);
  });

  it('shows an admin price change made through this service to the very next lookup', async () => {
    const { sku, product } = await lamp(1000);
    expect(await priceOf(sku)).toBe(1000);
    await service.update(product.id, { variants: [{ sku, title: 'Standard', price: { amount: 1500, currency: 'USD' } }] });
    const before = reads();
    expect(await priceOf(sku)).toBe(1500);
    expect(reads()).toBe(before + 1);
  });

  it('shows a product created through this service even after its SKU was looked up as unknown', async () => {
    const sku = uniqueSku('LATE');
    expect((await service.bySkus(sku)).items).toEqual([]);
    const before = reads();
    expect((await service.bySkus(sku)).items).toEqual([]);
    expect(reads()).toBe(before);
    await service.create({
      name: 'Late Lamp',
      description: 'Created after a lookup',
      category: 'test-things',
      variants: [{ sku, title: 'Standard', price: { amount: 700, currency: 'USD' } }],
    });
    expect(await priceOf(sku)).toBe(700);
  });

  it('reads again once an entry is TTL old: a change through another instance shows by then', async () => {
    const { sku, product } = await lamp(1000);
    expect(await priceOf(sku)).toBe(1000);
    // Another instance's write: straight to the database, this service's cache never hears of it.
    await new CatalogStore(storage).update(product.id, {
      variants: [{ sku, title: 'Standard', price: { amount: 2000, currency: 'USD' } }],
      updatedAt: clock.now(),
    });
    clock.advance(VARIANT_CACHE_TTL_MS - 1);
    expect(await priceOf(sku)).toBe(1000);
    clock.advance(1);
    const before = reads();
    expect(await priceOf(sku)).toBe(2000);
    expect(reads()).toBe(before + 1);
  });
});

describe('VariantCache', () => {
  const variant = (sku: string, amount = 100): VariantWithProduct => ({
    sku,
    title: 'T',
    price: { amount, currency: 'USD' },
    productId: '0190c0de-0000-7000-8000-0000000000aa',
    productName: 'P',
  });

  it('holds at most maxEntries, evicting the oldest first', async () => {
    const cache = new VariantCache(new ManualClock(), { maxEntries: 3 });
    const loads: string[][] = [];
    const load = async (missing: string[]) => {
      loads.push(missing);
      return missing.map((sku) => variant(sku));
    };
    await cache.lookup(['A', 'B', 'C'], load);
    await cache.lookup(['D'], load);
    expect(cache.size).toBe(3);
    await cache.lookup(['B', 'C', 'D', 'A'], load);
    expect(loads).toEqual([['A', 'B', 'C'], ['D'], ['A']]);
    expect(cache.size).toBe(3);
  });

  it('never stores what a lookup read before an invalidation', async () => {
    const cache = new VariantCache(new ManualClock());
    let finish!: () => void;
    const slow = cache.lookup(['A'], async (missing) => {
      await new Promise<void>((resolve) => (finish = resolve));
      return missing.map((sku) => variant(sku, 100));
    });
    await Promise.resolve();
    cache.invalidate();
    finish();
    expect((await slow).get('A')?.price.amount).toBe(100);
    expect(cache.size).toBe(0);
    const fresh = await cache.lookup(['A'], async (missing) => missing.map((sku) => variant(sku, 150)));
    expect(fresh.get('A')?.price.amount).toBe(150);
  });

  it('refuses a size or TTL out of range', () => {
    expect(() => new VariantCache(new ManualClock(), { maxEntries: 0 })).toThrow(/size/);
    expect(() => new VariantCache(new ManualClock(), { ttlMs: -1 })).toThrow(/TTL/);
  });
});
