import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackends } from '@agora/platform/testing';
import type { catalog } from '@agora/contracts';
import { DEFAULT_DEMO_PRODUCTS, listAllSkus, seedDemoCatalog } from '../src/index.js';
import { call, openCatalog, type CatalogHarness } from './harness.js';

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`catalog demo seed on ${backend.kind}`, () => {
    let h: CatalogHarness;
    let firstSkus: string[] = [];

    beforeAll(async () => {
      h = await openCatalog(backend);
    });
    afterAll(async () => {
      await h?.release();
    });

    it('fills an empty catalog with >= 1,000 products in >= 12 categories', async () => {
      // Two instances starting together: the advisory lock lets exactly one of them seed.
      const [a, b] = await Promise.all([seedDemoCatalog(h.storage), seedDemoCatalog(h.storage)]);
      expect([a.created, b.created].sort((x, y) => x - y)).toEqual([0, DEFAULT_DEMO_PRODUCTS]);
      expect(a.skus).toEqual(b.skus);
      firstSkus = a.skus;
      expect(firstSkus.length).toBeGreaterThanOrEqual(DEFAULT_DEMO_PRODUCTS);
      expect(new Set(firstSkus).size).toBe(firstSkus.length);
      expect(firstSkus).toEqual(await listAllSkus(h.storage));

      const categories = await call<catalog.CategoryList>(h.app, { method: 'GET', url: '/categories' });
      expect(categories.body.items.length).toBeGreaterThanOrEqual(12);
      expect(categories.body.items.reduce((n, c) => n + c.productCount, 0)).toBe(DEFAULT_DEMO_PRODUCTS);
      for (const c of categories.body.items) expect(c.productCount).toBeGreaterThan(50);
    });

    it('is idempotent: a second call creates nothing and returns the same SKUs', async () => {
      const again = await seedDemoCatalog(h.storage, { products: 5 });
      expect(again).toEqual({ created: 0, skus: firstSkus });
    });

    it('walks the seeded catalog by lowest variant price, each product once (the seed keeps min_price too)', async () => {
      const lowest: number[] = [];
      const ids = new Set<string>();
      let cursor: string | null = null;
      do {
        const query: Record<string, string> = { limit: '100', sort: 'price_asc', ...(cursor === null ? {} : { cursor }) };
        const page = await call<catalog.CatalogProductPage>(h.app, { method: 'GET', url: '/products', query });
        expect(page.status).toBe(200);
        for (const p of page.body.items) {
          ids.add(p.id);
          lowest.push(Math.min(...p.variants.map((v) => v.price.amount)));
        }
        cursor = page.body.nextCursor;
      } while (cursor !== null);
      expect(ids.size).toBe(DEFAULT_DEMO_PRODUCTS);
      expect(lowest).toHaveLength(DEFAULT_DEMO_PRODUCTS);
      expect(lowest).toEqual([...lowest].sort((a, b) => a - b));
    });

    it('gives a browsable, searchable catalog', async () => {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const query: Record<string, string> = cursor === null ? { limit: '100' } : { limit: '100', cursor };
        const page = await call<catalog.CatalogProductPage>(h.app, { method: 'GET', url: '/products', query });
        expect(page.status).toBe(200);
        for (const p of page.body.items) {
          expect(p.variants.length).toBeGreaterThanOrEqual(1);
          expect(p.variants.length).toBeLessThanOrEqual(3);
          for (const v of p.variants) expect(v.price.currency).toBe('USD');
        }
        ids.push(...page.body.items.map((p) => p.id));
        cursor = page.body.nextCursor;
      } while (cursor !== null);
      expect(ids).toHaveLength(DEFAULT_DEMO_PRODUCTS);
      expect(new Set(ids).size).toBe(DEFAULT_DEMO_PRODUCTS);

      const headphones = await call<catalog.CatalogProductPage>(h.app, { method: 'GET', url: '/products', query: { q: 'headphones', limit: '100' } });
      expect(headphones.body.items.length).toBeGreaterThan(0);
      for (const p of headphones.body.items) expect(`${p.name} ${p.description}`.toLowerCase()).toContain('headphone');
      const typed = await call<catalog.CatalogProductPage>(h.app, { method: 'GET', url: '/products', query: { q: 'sourd' } });
      expect(typed.body.items.length).toBeGreaterThan(0);
      const books = await call<catalog.CatalogProductPage>(h.app, { method: 'GET', url: '/products', query: { category: 'books', limit: '5' } });
      expect(books.body.items.every((p) => p.category === 'books')).toBe(true);

      const skus = firstSkus.slice(0, 3);
      const lookup = await call<catalog.SkuVariantList>(h.app, { method: 'GET', url: `/products/by-sku?skus=${skus.join(',')}` });
      expect(lookup.body.items.map((v) => v.sku)).toEqual(skus);
    });
  });
}
