import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, EnvReader, systemClock } from '@agora/kernel';
import { Metrics, createLogger, type Storage } from '@agora/platform';
import { pgliteBackend } from '@agora/platform/testing';
import { CatalogService, CatalogStore, catalogModule } from '../src/index.js';
import { StorefrontReads } from '../src/app/storefront-reads.js';
import { catalogCacheConfig, openCatalogCaches, type OpenedCaches } from '../src/cache-config.js';
import type { CatalogRepository } from '../src/app/ports.js';
import { uniqueSku } from './harness.js';

/** The real store, counting the listing reads that reach the database. */
function counting(store: CatalogStore): { repository: CatalogRepository; lists: () => number; counts: () => number } {
  let lists = 0;
  let counts = 0;
  const repository: CatalogRepository = {
    list: (listing) => {
      lists++;
      return store.list(listing);
    },
    count: (match) => {
      counts++;
      return store.count(match);
    },
    get: (id) => store.get(id),
    getMany: (ids) => store.getMany(ids),
    insert: (product) => store.insert(product),
    update: (id, changes) => store.update(id, changes),
    variantsBySku: (skus) => store.variantsBySku(skus),
    categories: () => store.categories(),
    setImage: (id, image, files, at) => store.setImage(id, image, files, at),
    imageFile: (id, version, width) => store.imageFile(id, version, width),
    related: (product, limit) => store.related(product, limit),
  };
  return { repository, lists: () => lists, counts: () => counts };
}

interface PageBody {
  items: { id: string; name: string }[];
  nextCursor: string | null;
  total: number;
}

/** `total` of the storefront pages: one count query per distinct match, shared by its pages and sorts, gone with a write. */
describe('storefront page totals (cache on, embedded storage)', () => {
  let storage: Storage;
  let release: () => Promise<void>;
  let caches: OpenedCaches;
  let reads: StorefrontReads;
  let service: CatalogService;
  let probe: ReturnType<typeof counting>;
  const category = 'totals';

  const create = (name: string, amount: number) =>
    service.create({ name, description: `${name} for the totals test`, category, variants: [{ sku: uniqueSku(), title: 'One', price: { amount, currency: 'USD' } }] });

  /** Every page of the query, as the storefront answers them. */
  const walk = async (query: Parameters<StorefrontReads['page']>[0]): Promise<PageBody[]> => {
    const pages: PageBody[] = [];
    let cursor: string | null = null;
    do {
      const text = await reads.page(cursor === null ? query : { ...query, cursor });
      const body = JSON.parse(text.json) as PageBody;
      pages.push(body);
      cursor = body.nextCursor;
    } while (cursor !== null && pages.length < 50);
    return pages;
  };

  beforeAll(async () => {
    const opened = await pgliteBackend.open();
    storage = opened.storage;
    release = opened.release;
    await storage.migrate('catalog', catalogModule.migrationsFolder ?? '');
    const opencaches = openCatalogCaches(catalogCacheConfig(new EnvReader({})), createLogger('cache', 'silent'), new Metrics(false));
    if (opencaches === undefined) throw new Error('the cache is on by default');
    caches = opencaches;
    await caches.start();
    probe = counting(new CatalogStore(storage));
    service = new CatalogService(probe.repository, systemClock, {}, (ids) => reads.catalogChanged(ids));
    const availability = { levels: async (skus: readonly string[]) => new Map(skus.map((sku) => [sku, 5])) };
    reads = new StorefrontReads(probe.repository, service, availability, caches, createLogger('catalog', 'silent'));
    for (const [i, name] of ['Amber Lamp', 'Birch Lamp', 'Cedar Lamp', 'Dune Chair', 'Elm Chair'].entries()) await create(name, 1000 * (i + 1));
  });
  afterAll(async () => {
    await caches?.close();
    await release?.();
  });

  it('counts a query once for all its pages and sorts, and again only for another match or after a write', async () => {
    const lists = probe.lists();
    const counts = probe.counts();
    const newest = await walk({ category, limit: 2 });
    expect(newest.map((p) => p.items.length)).toEqual([2, 2, 1]);
    expect(newest.map((p) => p.total)).toEqual([5, 5, 5]);
    const byName = await walk({ category, limit: 2, sort: 'name' });
    expect(byName.flatMap((p) => p.items.map((i) => i.name))).toEqual(['Amber Lamp', 'Birch Lamp', 'Cedar Lamp', 'Dune Chair', 'Elm Chair']);
    expect(byName.map((p) => p.total)).toEqual([5, 5, 5]);
    expect(probe.lists() - lists).toBe(6);
    expect(probe.counts() - counts).toBe(1);

    // The same pages again: all from the cache.
    await walk({ category, limit: 2, sort: 'name' });
    expect(probe.lists() - lists).toBe(6);
    expect(probe.counts() - counts).toBe(1);

    // Another match is another count.
    const cheap = await walk({ category, maxPrice: 2000 });
    expect(cheap[0]?.total).toBe(2);
    expect(probe.counts() - counts).toBe(2);

    // A write starts a new generation: the count is asked again and sees the new product.
    await create('Fir Lamp', 500);
    const after = await walk({ category, limit: 2 });
    expect(after.map((p) => p.total)).toEqual([6, 6, 6]);
    expect(probe.counts() - counts).toBe(3);
  });

  it('refuses a bad query before the cache and the database', async () => {
    const lists = probe.lists();
    const counts = probe.counts();
    await expect(reads.page({ category, minPrice: 10, maxPrice: 5 })).rejects.toBeInstanceOf(AppError);
    await expect(reads.page({ category, sort: 'price_asc', cursor: 'bm90LWEtY3Vyc29y' })).rejects.toBeInstanceOf(AppError);
    expect(probe.lists()).toBe(lists);
    expect(probe.counts()).toBe(counts);
  });
});
