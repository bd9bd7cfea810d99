import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackends } from '@agora/platform/testing';
import { ADMIN, startSystem, type RunningSystem } from '../support/system.js';
import { Api } from '../support/http.js';
import { expectFieldError } from '../support/shop.js';

interface Product {
  id: string;
  name: string;
  variants: { sku: string; price: { amount: number; currency: string }; available: number }[];
}
interface Page {
  items: Product[];
  nextCursor: string | null;
  total?: number;
}

/**
 * Search and browse as a shopper uses them (docs/api.md, `GET /api/v1/products`): typo-tolerant
 * search ranked with exact matches first, every sort walked page by page, price bounds and result
 * counts, through the gateway over HTTP on every backend. Each run works in its own category.
 */
for (const backend of testBackends) {
  describe.runIf(await backend.available())(`catalog search, sorting, price filters and totals on ${backend.kind}`, () => {
    let system: RunningSystem;
    let api: Api;
    let adminToken: string;
    const suffix = Math.random().toString(36).slice(2, 8);
    const category = `search-${suffix}`;
    /** What was created, in creation order (so newest first is its reverse). */
    const created: { id: string; name: string; minPrice: number }[] = [];

    const create = async (name: string, description: string, prices: number[]): Promise<string> => {
      const variants = prices.map((amount, i) => ({ sku: `S-${suffix}-${created.length}-${i}`.toUpperCase(), title: `V${i}`, price: { amount, currency: 'USD' } }));
      const res = await api.post<Product>('/api/v1/admin/products', { name, description, category, variants }, { token: adminToken });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      created.push({ id: res.body.id, name, minPrice: Math.min(...prices) });
      return res.body.id;
    };

    const page = async (params: Record<string, string | number>): Promise<Page> => {
      const query = new URLSearchParams(Object.entries({ category, ...params }).map(([k, v]): [string, string] => [k, String(v)]));
      const res = await api.get<Page>(`/api/v1/products?${query}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body;
    };

    /** Every page of a query, following nextCursor; the totals every page reported. */
    const walk = async (params: Record<string, string | number>): Promise<{ names: string[]; ids: string[]; totals: (number | undefined)[] }> => {
      const ids: string[] = [];
      const totals: (number | undefined)[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 100; pages++) {
        const body: Page = await page(cursor === null ? params : { ...params, cursor });
        ids.push(...body.items.map((p) => p.id));
        totals.push(body.total);
        cursor = body.nextCursor;
        if (cursor === null) return { ids, totals, names: ids.map((id) => created.find((c) => c.id === id)?.name ?? id) };
      }
      throw new Error('pagination did not end');
    };

    const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

    beforeAll(async () => {
      system = await startSystem(backend);
      api = new Api(system.baseUrl);
      const login = await api.post<{ token: string }>('/api/v1/auth/login', ADMIN);
      expect(login.status).toBe(200);
      adminToken = login.body.token;
      await create('Wireless Charger Pad', 'Charges phones without a cable', [2500]);
      await create('Wirless Speaker Knockoff', 'A speaker sold under a misspelt name', [1500, 40000]);
      await create('apple crate', 'Wooden crate', [2500]);
      await create('Banana Hook', 'Keeps bananas fresh', [800, 1200]);
      await create('Cable Organizer', 'Tidy desk cables', [100, 10000]);
      await create('Desk Lamp', 'Warm light for reading', [4500]);
    });
    afterAll(async () => system?.stop());

    it('tolerates typos: "wirless" finds "wireless", the exact word first', async () => {
      const body = await page({ q: 'wirless' });
      const names = body.items.map((p) => p.name);
      expect(names).toEqual(['Wirless Speaker Knockoff', 'Wireless Charger Pad']);
      expect(body.total).toBe(2);
      // The other way round: the correctly spelt query ranks its exact match first too.
      expect((await page({ q: 'wireless' })).items.map((p) => p.name)).toEqual(['Wireless Charger Pad', 'Wirless Speaker Knockoff']);
      expect((await page({ q: 'chargr pad' })).items.map((p) => p.name)).toEqual(['Wireless Charger Pad']);
      expect((await page({ q: 'xylophonic' })).items).toEqual([]);
    });

    it('walks every sort page by page, in order, each product once', async () => {
      const prices = await walk({ sort: 'price_asc', limit: 2 });
      const byPrice = [...created].sort((a, b) => a.minPrice - b.minPrice || byId(a.id, b.id));
      expect(prices.ids).toEqual(byPrice.map((c) => c.id));
      const pricesDown = await walk({ sort: 'price_desc', limit: 2 });
      expect(pricesDown.ids).toEqual([...byPrice].reverse().map((c) => c.id));
      // Case does not decide the order: "apple crate" comes first.
      const names = await walk({ sort: 'name', limit: 2 });
      expect(names.names).toEqual(['apple crate', 'Banana Hook', 'Cable Organizer', 'Desk Lamp', 'Wireless Charger Pad', 'Wirless Speaker Knockoff']);
      const newest = await walk({ sort: 'newest', limit: 4 });
      expect(newest.ids).toEqual([...created].reverse().map((c) => c.id));
      expect((await walk({ limit: 4 })).ids).toEqual(newest.ids);
      const relevance = await walk({ q: 'wirless', limit: 1 });
      expect(relevance.names).toEqual(['Wirless Speaker Knockoff', 'Wireless Charger Pad']);
      for (const walked of [prices, pricesDown, names, newest, relevance]) {
        expect(new Set(walked.ids).size).toBe(walked.ids.length);
        // One count for the whole query: the same on every page.
        expect(new Set(walked.totals)).toEqual(new Set([walked.ids.length]));
      }
    });

    it('filters by price: some variant within both bounds', async () => {
      const names = async (params: Record<string, number>) => (await walk({ sort: 'name', ...params })).names;
      expect(await names({ minPrice: 2500 })).toEqual(['apple crate', 'Cable Organizer', 'Desk Lamp', 'Wireless Charger Pad', 'Wirless Speaker Knockoff']);
      expect(await names({ maxPrice: 800 })).toEqual(['Banana Hook', 'Cable Organizer']);
      expect(await names({ minPrice: 1000, maxPrice: 2500 })).toEqual(['apple crate', 'Banana Hook', 'Wireless Charger Pad', 'Wirless Speaker Knockoff']);
      // Cable Organizer has variants at 100 and 10000, none between 500 and 900.
      expect(await names({ minPrice: 500, maxPrice: 900 })).toEqual(['Banana Hook']);
      expect(await names({ minPrice: 2500, maxPrice: 2500 })).toEqual(['apple crate', 'Wireless Charger Pad']);
      const combined = await page({ q: 'wirless', maxPrice: 2000 });
      expect(combined.items.map((p) => p.name)).toEqual(['Wirless Speaker Knockoff']);
      expect(combined.total).toBe(1);
    });

    it('refuses bad parameters with 400 naming the field', async () => {
      expectFieldError(await api.get(`/api/v1/products?minPrice=900&maxPrice=500`), 'minPrice');
      expectFieldError(await api.get(`/api/v1/products?minPrice=-1`), 'minPrice');
      expectFieldError(await api.get(`/api/v1/products?maxPrice=1.5`), 'maxPrice');
      expectFieldError(await api.get(`/api/v1/products?sort=cheapest`), 'sort');
      // A cursor belongs to the sort it was issued for.
      const first = await page({ sort: 'name', limit: 1 });
      expect(first.nextCursor).not.toBeNull();
      const cursor = encodeURIComponent(first.nextCursor ?? '');
      expectFieldError(await api.get(`/api/v1/products?category=${category}&sort=price_asc&cursor=${cursor}`), 'cursor');
      expectFieldError(await api.get(`/api/v1/products?category=${category}&cursor=${cursor}`), 'cursor');
    });

    it('counts again after a write (the cached total goes with the pages)', async () => {
      const before = await page({ minPrice: 4000 });
      expect(before.total).toBe(3);
      await create('Floor Lamp', 'Tall warm light', [6000]);
      const after = await page({ minPrice: 4000 });
      expect(after.total).toBe(4);
      expect(after.items.map((p) => p.name)).toContain('Floor Lamp');
    });

    it('sorts and filters by the prices as changed', async () => {
      const lamp = created.find((c) => c.name === 'Desk Lamp');
      if (lamp === undefined) throw new Error('no Desk Lamp');
      const res = await api.patch(`/api/v1/admin/products/${lamp.id}`, { variants: [{ sku: `S-${suffix}-LAMP`.toUpperCase(), title: 'Sale', price: { amount: 50, currency: 'USD' } }] }, { token: adminToken });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect((await page({ sort: 'price_asc', limit: 1 })).items.map((p) => p.name)).toEqual(['Desk Lamp']);
      expect((await walk({ sort: 'name', maxPrice: 50 })).names).toEqual(['Desk Lamp']);
      expect((await walk({ sort: 'name', minPrice: 4000 })).names).not.toContain('Desk Lamp');
    });
  });
}
