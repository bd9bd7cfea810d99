import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { testBackends } from '@agora/platform/testing';
import { newId } from '@agora/kernel';
import type { catalog } from '@agora/contracts';
import { encodeCursor } from '../src/domain/cursor.js';
import { ADMIN, call, openCatalog, uniqueSku, type CatalogHarness, type ProblemBody } from './harness.js';

type Page = catalog.CatalogProductPage & ProblemBody;

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`catalog listing and search on ${backend.kind}`, () => {
    let h: CatalogHarness;
    const walkIds: string[] = [];
    const WALK_CATEGORY = 'walk-me';
    const WALK_SIZE = 37;

    const createProduct = async (name: string, description: string, category: string): Promise<catalog.CatalogProduct> => {
      const reply = await call<catalog.CatalogProduct>(h.app, {
        method: 'POST',
        url: '/products',
        caller: ADMIN,
        payload: { name, description, category, variants: [{ sku: uniqueSku(), title: 'One', price: { amount: 500, currency: 'USD' } }] },
      });
      if (reply.status !== 201) throw new Error(`create failed: ${reply.status} ${JSON.stringify(reply.body)}`);
      return reply.body;
    };

    const list = (query: Record<string, string>) => call<Page>(h.app, { method: 'GET', url: '/products', query });

    /** Follows nextCursor to the end; fails on a loop. */
    const walk = async (query: Record<string, string>): Promise<string[]> => {
      const ids: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 10_000; pages++) {
        const reply = await list(cursor === null ? query : { ...query, cursor });
        expect(reply.status).toBe(200);
        ids.push(...reply.body.items.map((p) => p.id));
        cursor = reply.body.nextCursor;
        if (cursor === null) return ids;
      }
      throw new Error('pagination did not end');
    };

    beforeAll(async () => {
      h = await openCatalog(backend);
      for (let i = 0; i < WALK_SIZE; i++) walkIds.push((await createProduct(`Walker ${i}`, `Item number ${i} of the walk`, WALK_CATEGORY)).id);
      await createProduct('Zephyrine Quokka Lamp', 'A handcrafted obsidian shade with a warm glow', 'lanterns');
      await createProduct('Quokka Plush Toy', 'Soft and cuddly, loved by children', 'toys');
      await createProduct('Running Shoes', 'Lightweight trainers for marathon runners', 'sports');
      await createProduct('Headphones', 'Wireless over-ear headphones with noise cancelling', 'electronics');
      for (let i = 0; i < 7; i++) await createProduct(`Blorptastic Gadget ${i}`, 'Search and paginate together', i % 2 === 0 ? 'even-gadgets' : 'odd-gadgets');
    });
    afterAll(async () => {
      await h?.release();
    });

    describe('pagination', () => {
      it('defaults to 20 per page, newest first, with an opaque cursor', async () => {
        const first = await list({ category: WALK_CATEGORY });
        expect(first.status).toBe(200);
        expect(first.body.items).toHaveLength(20);
        expect(first.body.items.map((p) => p.id)).toEqual([...walkIds].reverse().slice(0, 20));
        expect(first.body.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
        const second = await list({ category: WALK_CATEGORY, cursor: first.body.nextCursor ?? '' });
        expect(second.body.items).toHaveLength(WALK_SIZE - 20);
        expect(second.body.nextCursor).toBeNull();
      });

      it('walks every product exactly once, whatever the page size (property)', async () => {
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 1, max: 100 }), async (limit) => {
            const ids = await walk({ category: WALK_CATEGORY, limit: String(limit) });
            expect(ids).toEqual([...walkIds].reverse());
          }),
          { numRuns: 12, examples: [[1], [WALK_SIZE], [WALK_SIZE - 1], [100]] },
        );
      });

      it('walks the whole catalog exactly once without filters', async () => {
        const ids = await walk({ limit: '7' });
        expect(new Set(ids).size).toBe(ids.length);
        const categories = await call<catalog.CategoryList>(h.app, { method: 'GET', url: '/categories' });
        expect(ids.length).toBe(categories.body.items.reduce((n, c) => n + c.productCount, 0));
      });

      it('a product added mid-walk does not shift or repeat the pages', async () => {
        const first = await list({ category: WALK_CATEGORY, limit: '10' });
        const added = await createProduct('Late Walker', 'Arrives after the first page', WALK_CATEGORY);
        const rest = await walk({ category: WALK_CATEGORY, limit: '10', cursor: first.body.nextCursor ?? '' });
        const seen = [...first.body.items.map((p) => p.id), ...rest];
        expect(seen).toEqual([...walkIds].reverse());
        expect(seen).not.toContain(added.id);
        walkIds.push(added.id);
      });

      it('rejects limits outside 1..100 naming limit', async () => {
        for (const limit of ['0', '101', '-1', 'ten', '1.5']) {
          const reply = await list({ limit });
          expect(reply.status, limit).toBe(400);
          expect(reply.body.errors?.[0]?.path).toBe('limit');
        }
      });

      it('rejects malformed, forged and garbage cursors with 400 naming cursor', async () => {
        const b64 = (s: string) => Buffer.from(s).toString('base64url');
        const bad = [
          'garbage',
          '!!!',
          '====',
          'a'.repeat(600),
          b64('p1:not-a-uuid'),
          b64('p2:' + newId()),
          b64('{"id":"' + newId() + '"}'),
          b64("p1:' or 1=1 --"),
          b64('p1:' + newId()) + '=',
          b64('p1:' + newId()).slice(0, -2),
          '\u0000',
          '🙂',
        ];
        for (const cursor of bad) {
          const reply = await list({ cursor });
          expect(reply.status, cursor).toBe(400);
          expect(reply.body.code).toBe('VALIDATION_FAILED');
          expect(reply.body.errors?.[0]?.path, cursor).toBe('cursor');
        }
        const empty = await list({ cursor: '' });
        expect(empty.status).toBeLessThan(500);
      });

      it('a well-formed cursor for an unknown id just continues from that position', async () => {
        const reply = await list({ cursor: encodeCursor({ sort: 'newest', id: newId() }) });
        expect(reply.status).toBe(200);
        const beforeAll = await list({ cursor: encodeCursor({ sort: 'newest', id: '00000000-0000-7000-8000-000000000000' }) });
        // The count is of the query, not of what is left after the cursor.
        expect(beforeAll.body).toEqual({ items: [], nextCursor: null, total: (await list({})).body.total });
        expect(beforeAll.body.total).toBeGreaterThan(0);
      });
    });

    describe('category filter', () => {
      it('filters exactly', async () => {
        const reply = await list({ category: 'toys' });
        expect(reply.body.items.map((p) => p.name)).toEqual(['Quokka Plush Toy']);
        expect((await list({ category: 'toy' })).body.items).toEqual([]);
        expect((await list({ category: 'TOYS' })).body.items).toEqual([]);
        expect((await list({ category: "toys' or '1'='1" })).body.items).toEqual([]);
      });
    });

    describe('full-text search', () => {
      const names = async (query: Record<string, string>): Promise<string[]> => {
        const reply = await list(query);
        expect(reply.status).toBe(200);
        return reply.body.items.map((p) => p.name).sort();
      };

      it('finds by words in the name, the description and the category', async () => {
        expect(await names({ q: 'quokka' })).toEqual(['Quokka Plush Toy', 'Zephyrine Quokka Lamp']);
        expect(await names({ q: 'obsidian' })).toEqual(['Zephyrine Quokka Lamp']);
        expect(await names({ q: 'lanterns' })).toEqual(['Zephyrine Quokka Lamp']);
        expect(await names({ q: 'QUOKKA lamp' })).toEqual(['Zephyrine Quokka Lamp']);
      });

      it('matches stemmed forms', async () => {
        expect(await names({ q: 'lamps' })).toEqual(['Zephyrine Quokka Lamp']);
        expect(await names({ q: 'run' })).toEqual(['Running Shoes']);
        expect(await names({ q: 'marathon runner' })).toEqual(['Running Shoes']);
      });

      it('matches prefixes for search-as-you-type', async () => {
        expect(await names({ q: 'quok' })).toEqual(['Quokka Plush Toy', 'Zephyrine Quokka Lamp']);
        expect(await names({ q: 'zephyr' })).toEqual(['Zephyrine Quokka Lamp']);
        expect(await names({ q: 'quokka pl' })).toEqual(['Quokka Plush Toy']);
        expect(await names({ q: 'headph' })).toEqual(['Headphones']);
        expect(await names({ q: 'wireless headphone' })).toEqual(['Headphones']);
      });

      it('honours web-search operators', async () => {
        expect(await names({ q: 'quokka -lamp' })).toEqual(['Quokka Plush Toy']);
        expect(await names({ q: '"obsidian shade"' })).toEqual(['Zephyrine Quokka Lamp']);
        expect(await names({ q: 'obsidian or marathon' })).toEqual(['Running Shoes', 'Zephyrine Quokka Lamp']);
      });

      it('an empty or blank q is no filter', async () => {
        const all = await list({ limit: '100' });
        for (const q of ['', '   ', '\t']) expect((await list({ q, limit: '100' })).body).toEqual(all.body);
      });

      it('works with category filter and pagination together', async () => {
        const ids = await walk({ q: 'blorptastic', limit: '2' });
        expect(ids).toHaveLength(7);
        expect(new Set(ids).size).toBe(7);
        const even = await walk({ q: 'blorpt', category: 'even-gadgets', limit: '1' });
        expect(even).toHaveLength(4);
      });

      it('finds nothing rather than failing for words it does not know', async () => {
        expect(await names({ q: 'xylophonic' })).toEqual([]);
        expect(await names({ q: 'the' })).toEqual([]);
      });

      it('hostile queries are answered 200 (or 400 when too long), never 5xx, and harm nothing', async () => {
        const hostile = [
          "'; drop table catalog.products; --",
          "' or 1=1 --",
          '%_\\',
          '"unbalanced',
          '(((',
          ')))',
          'a & | ! b',
          ':*',
          'foo:* & !bar',
          '<->',
          'quokka <-> lamp',
          '!!!',
          '\\x00',
          '\u0000',
          'quokka\u0000lamp',
          '$1',
          '::tsquery',
          "websearch_to_tsquery('english', 'x')",
          '🙂 emoji',
          '\ud800',
          'ÄÖÜ straße café',
          '中文 搜索',
          '-',
          '--',
          'or',
          '" or "',
          'x'.repeat(200),
          'a '.repeat(100),
        ];
        for (const q of hostile) {
          const reply = await list({ q });
          expect(reply.status, JSON.stringify(q)).toBe(200);
        }
        const tooLong = await list({ q: 'x'.repeat(201) });
        expect(tooLong.status).toBe(400);
        expect(tooLong.body.errors?.[0]?.path).toBe('q');
        expect(await names({ q: 'quokka' })).toEqual(['Quokka Plush Toy', 'Zephyrine Quokka Lamp']);
      });

      it('repeated or bracketed query parameters are 2xx/4xx, never 5xx', async () => {
        for (const url of [
          '/products?q=a&q=b',
          '/products?cursor=a&cursor=b',
          '/products?limit=1&limit=2',
          '/products?category[]=toys',
          '/products?category=toys&category=sports',
          '/products?q=%00%27%22',
          '/products?q=%E0%A4%A',
          '/products?q=%ED%A0%80',
          '/products/by-sku?skus=a&skus=b',
        ]) {
          const reply = await call<ProblemBody>(h.app, { method: 'GET', url });
          expect(reply.status, url).toBeLessThan(500);
        }
      });

      it('any string at all is 2xx or 4xx (property)', async () => {
        await fc.assert(
          fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ maxLength: 20 }), async (q, cursor) => {
            const reply = await list({ q });
            expect(reply.status).toBe(200);
            const withCursor = await list({ q, cursor, category: q.slice(0, 10) });
            expect(withCursor.status).toBeLessThan(500);
          }),
          { numRuns: 150 },
        );
      });

      it('sees changes: an updated name is searchable at once', async () => {
        const product = await createProduct('Plain Mug', 'For tea', 'kitchen');
        const reply = await call<catalog.CatalogProduct>(h.app, {
          method: 'PATCH',
          url: `/products/${product.id}`,
          caller: ADMIN,
          payload: { name: 'Gruffalo Mug' },
        });
        expect(reply.status).toBe(200);
        expect(await names({ q: 'gruffalo' })).toEqual(['Gruffalo Mug']);
      });
    });

    it('ignores unknown body fields but still needs one known one', async () => {
      const product = await createProduct('Odd Mug', 'For coffee', 'kitchen');
      const reply = await call<ProblemBody>(h.app, { method: 'PATCH', url: `/products/${product.id}`, caller: ADMIN, payload: { colour: 'red' } });
      expect(reply.status).toBe(400);
      expect(reply.body.errors?.[0]?.path).toBe('body');
    });
  });
}
