import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackends } from '@agora/platform/testing';
import { newId } from '@agora/kernel';
import type { catalog } from '@agora/contracts';
import type { Caller } from '@agora/platform';
import { ADMIN, CUSTOMER, call, openCatalog, productBody, uniqueSku, type CatalogHarness, type ProblemBody } from './harness.js';

type Product = catalog.CatalogProduct;

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`catalog products on ${backend.kind}`, () => {
    let h: CatalogHarness;

    beforeAll(async () => {
      h = await openCatalog(backend);
    });
    afterAll(async () => {
      await h?.release();
    });

    /** `null`: an anonymous caller. */
    const create = (body: Record<string, unknown>, caller: Caller | null = ADMIN) =>
      call<Product & ProblemBody>(h.app, { method: 'POST', url: '/products', caller: caller ?? undefined, payload: body });
    const patch = (id: string, body: unknown, caller: Caller | null = ADMIN) =>
      call<Product & ProblemBody>(h.app, { method: 'PATCH', url: `/products/${id}`, caller: caller ?? undefined, payload: body as Record<string, unknown> });
    const get = (id: string) => call<Product & ProblemBody>(h.app, { method: 'GET', url: `/products/${id}` });

    describe('create and read', () => {
      it('creates a product and reads it back', async () => {
        const sku1 = uniqueSku('LAMP');
        const sku2 = uniqueSku('LAMP');
        const created = await create({
          name: '  Brass Desk Lamp ',
          description: 'Warm light for late work',
          category: 'home-kitchen',
          variants: [
            { sku: sku1, title: 'Brass', price: { amount: 4999, currency: 'USD' } },
            { sku: sku2, title: 'Black', price: { amount: 4599, currency: 'USD' } },
          ],
        });
        expect(created.status).toBe(201);
        expect(created.body).toMatchObject({
          name: 'Brass Desk Lamp',
          description: 'Warm light for late work',
          category: 'home-kitchen',
          variants: [
            { sku: sku1, title: 'Brass', price: { amount: 4999, currency: 'USD' } },
            { sku: sku2, title: 'Black', price: { amount: 4599, currency: 'USD' } },
          ],
          createdAt: '2026-03-01T12:00:00.000Z',
          updatedAt: '2026-03-01T12:00:00.000Z',
        });
        expect(created.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(created.body).not.toHaveProperty('available');
        expect(created.body.variants[0]).not.toHaveProperty('available');

        const read = await get(created.body.id);
        expect(read.status).toBe(200);
        expect(read.body).toEqual(created.body);
        const upper = await get(created.body.id.toUpperCase());
        expect(upper.status).toBe(200);
        expect(upper.body.id).toBe(created.body.id);
      });

      it('answers 404 for an unknown id and 400 naming id for a malformed one', async () => {
        const missing = await get(newId());
        expect(missing.status).toBe(404);
        expect(missing.body.code).toBe('NOT_FOUND');
        expect(missing.contentType).toContain('application/problem+json');
        for (const bad of ['not-a-uuid', '123', 'urn:uuid:0190c0de-0000-7000-8000-000000000001', "1' or '1'='1", '%00']) {
          const reply = await get(encodeURIComponent(bad));
          expect(reply.status, bad).toBe(400);
          expect(reply.body.code).toBe('VALIDATION_FAILED');
          expect(reply.body.errors?.[0]?.path).toBe('id');
        }
      });
    });

    describe('validation names the field', () => {
      const variant = (price: unknown, sku = uniqueSku()) => ({ sku, title: 'One', price });
      const cases: [string, Record<string, unknown>, string][] = [
        ['missing name', { name: undefined }, 'name'],
        ['blank name', { name: '   ' }, 'name'],
        ['name of the wrong type', { name: 42 }, 'name'],
        ['missing description', { description: undefined }, 'description'],
        ['category not a slug', { category: 'Home & Kitchen' }, 'category'],
        ['negative price', { variants: [variant({ amount: -1, currency: 'USD' })] }, 'variants[0].price.amount'],
        ['float price', { variants: [variant({ amount: 19.99, currency: 'USD' })] }, 'variants[0].price.amount'],
        ['price as a string', { variants: [variant({ amount: '1999', currency: 'USD' })] }, 'variants[0].price.amount'],
        ['lower-case currency', { variants: [variant({ amount: 100, currency: 'usd' })] }, 'variants[0].price.currency'],
        ['missing currency', { variants: [variant({ amount: 100 })] }, 'variants[0].price.currency'],
        ['zero variants', { variants: [] }, 'variants'],
        ['variants not an array', { variants: 'many' }, 'variants'],
        ['SKU with a space', { variants: [variant({ amount: 100, currency: 'USD' }, 'BAD SKU')] }, 'variants[0].sku'],
        ['blank variant title', { variants: [{ sku: uniqueSku(), title: ' ', price: { amount: 1, currency: 'USD' } }] }, 'variants[0].title'],
        [
          'mixed currencies',
          { variants: [variant({ amount: 100, currency: 'USD' }), variant({ amount: 100, currency: 'EUR' })] },
          'variants[1].price.currency',
        ],
      ];
      for (const [label, overrides, path] of cases) {
        it(`${label} → 400 at ${path}`, async () => {
          const body = productBody(overrides);
          for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete body[k];
          const reply = await create(body);
          expect(reply.status).toBe(400);
          expect(reply.body.code).toBe('VALIDATION_FAILED');
          expect(reply.body.errors?.map((e) => e.path)).toContain(path);
        });
      }

      it('a body that is not JSON is a 400, not a 500', async () => {
        const reply = await call<ProblemBody>(h.app, {
          method: 'POST',
          url: '/products',
          caller: ADMIN,
          headers: { 'content-type': 'application/json' },
          payload: '{"name": ',
        });
        expect(reply.status).toBe(400);
        expect(reply.body.code).toBe('VALIDATION_FAILED');
      });

      it('nothing was written by the rejected requests', async () => {
        const reply = await call<catalog.CatalogProductPage>(h.app, { method: 'GET', url: '/products?category=test-things' });
        expect(reply.body.items).toEqual([]);
      });
    });

    describe('SKUs are unique across the catalog', () => {
      it('a SKU twice in one body → 409 naming it', async () => {
        const sku = uniqueSku('DUP');
        const reply = await create(
          productBody({
            variants: [
              { sku, title: 'A', price: { amount: 1, currency: 'USD' } },
              { sku, title: 'B', price: { amount: 2, currency: 'USD' } },
            ],
          }),
        );
        expect(reply.status).toBe(409);
        expect(reply.body.code).toBe('CONFLICT');
        expect(reply.body.detail).toContain(sku);
      });

      it("another product's SKU → 409 naming it, and nothing is written", async () => {
        const sku = uniqueSku('OWNED');
        expect((await create(productBody({ variants: [{ sku, title: 'A', price: { amount: 1, currency: 'USD' } }] }))).status).toBe(201);
        const fresh = uniqueSku('FRESH');
        const reply = await create(
          productBody({
            category: 'sku-conflict',
            variants: [
              { sku: fresh, title: 'New', price: { amount: 1, currency: 'USD' } },
              { sku, title: 'Stolen', price: { amount: 1, currency: 'USD' } },
            ],
          }),
        );
        expect(reply.status).toBe(409);
        expect(reply.body.detail).toContain(sku);
        expect(reply.body.errors?.[0]?.path).toBe('variants[1].sku');
        const lookup = await call<catalog.SkuVariantList>(h.app, { method: 'GET', url: `/products/by-sku?skus=${fresh}` });
        expect(lookup.body.items).toEqual([]);
      });

      it('concurrent creates with one SKU: exactly one wins, the rest are 409', async () => {
        const sku = uniqueSku('RACE');
        const replies = await Promise.all(
          Array.from({ length: 6 }, () => create(productBody({ variants: [{ sku, title: 'A', price: { amount: 1, currency: 'USD' } }] }))),
        );
        const statuses = replies.map((r) => r.status).sort();
        expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
      });
    });

    describe('who may write', () => {
      it('no caller → 401, customer → 403, before the body is even looked at', async () => {
        for (const body of [productBody(), { nonsense: true }]) {
          const anonymous = await create(body, null);
          expect(anonymous.status).toBe(401);
          expect(anonymous.body.code).toBe('UNAUTHENTICATED');
          const customer = await create(body, CUSTOMER);
          expect(customer.status).toBe(403);
          expect(customer.body.code).toBe('FORBIDDEN');
        }
        const existing = await create(productBody());
        expect((await patch(existing.body.id, { name: 'Hacked' }, null)).status).toBe(401);
        expect((await patch(existing.body.id, { name: 'Hacked' }, CUSTOMER)).status).toBe(403);
        expect((await get(existing.body.id)).body.name).toBe('Test Lamp');
      });
    });

    describe('update', () => {
      it('changes only the fields given and moves updatedAt', async () => {
        const created = await create(productBody({ name: 'Old Name' }));
        h.clock.advance(60_000);
        const reply = await patch(created.body.id, { name: 'New Name' });
        expect(reply.status).toBe(200);
        expect(reply.body).toMatchObject({
          id: created.body.id,
          name: 'New Name',
          description: created.body.description,
          category: created.body.category,
          variants: created.body.variants,
          createdAt: created.body.createdAt,
        });
        expect(Date.parse(reply.body.updatedAt)).toBe(Date.parse(created.body.createdAt) + 60_000);
        expect((await get(created.body.id)).body).toEqual(reply.body);
      });

      it('replaces the variant list, keeping SKUs that remain and freeing the others', async () => {
        const [a, b, c] = [uniqueSku('A'), uniqueSku('B'), uniqueSku('C')];
        const created = await create(
          productBody({
            variants: [
              { sku: a, title: 'A', price: { amount: 100, currency: 'USD' } },
              { sku: b, title: 'B', price: { amount: 200, currency: 'USD' } },
            ],
          }),
        );
        const reply = await patch(created.body.id, {
          variants: [
            { sku: c, title: 'C', price: { amount: 300, currency: 'EUR' } },
            { sku: b, title: 'B renamed', price: { amount: 250, currency: 'EUR' } },
          ],
        });
        expect(reply.status).toBe(200);
        expect(reply.body.variants).toEqual([
          { sku: c, title: 'C', price: { amount: 300, currency: 'EUR' } },
          { sku: b, title: 'B renamed', price: { amount: 250, currency: 'EUR' } },
        ]);
        // A is free again: another product may take it.
        expect((await create(productBody({ variants: [{ sku: a, title: 'A again', price: { amount: 1, currency: 'USD' } }] }))).status).toBe(201);
      });

      it("taking another product's SKU → 409 and the product is unchanged", async () => {
        const other = await create(productBody());
        const otherSku = other.body.variants[0]?.sku ?? '';
        const mine = await create(productBody({ name: 'Mine' }));
        const reply = await patch(mine.body.id, {
          name: 'Renamed',
          variants: [{ sku: otherSku, title: 'Stolen', price: { amount: 1, currency: 'USD' } }],
        });
        expect(reply.status).toBe(409);
        expect(reply.body.detail).toContain(otherSku);
        expect((await get(mine.body.id)).body).toEqual(mine.body);
      });

      it('rejects empty, wrongly typed and mixed-currency updates with 400, unknown ids with 404', async () => {
        const created = await create(productBody());
        const empty = await patch(created.body.id, {});
        expect(empty.status).toBe(400);
        const wrong = await patch(created.body.id, { name: 7 });
        expect(wrong.status).toBe(400);
        expect(wrong.body.errors?.[0]?.path).toBe('name');
        const noVariants = await patch(created.body.id, { variants: [] });
        expect(noVariants.status).toBe(400);
        expect(noVariants.body.errors?.[0]?.path).toBe('variants');
        const mixed = await patch(created.body.id, {
          variants: [
            { sku: uniqueSku(), title: 'A', price: { amount: 1, currency: 'USD' } },
            { sku: uniqueSku(), title: 'B', price: { amount: 1, currency: 'GBP' } },
          ],
        });
        expect(mixed.status).toBe(400);
        expect(mixed.body.errors?.[0]?.path).toBe('variants[1].price.currency');
        expect((await patch(newId(), { name: 'Nobody' })).status).toBe(404);
        expect((await patch('nope', { name: 'Nobody' })).status).toBe(400);
        expect((await get(created.body.id)).body).toEqual(created.body);
      });
    });

    describe('by-sku lookup', () => {
      it('answers the known SKUs in the order asked, each once', async () => {
        const [a, b] = [uniqueSku('LA'), uniqueSku('LB')];
        const created = await create(
          productBody({
            name: 'Lookup Kettle',
            variants: [
              { sku: a, title: 'Small', price: { amount: 1500, currency: 'USD' } },
              { sku: b, title: 'Large', price: { amount: 2500, currency: 'USD' } },
            ],
          }),
        );
        const reply = await call<catalog.SkuVariantList & ProblemBody>(h.app, { method: 'GET', url: `/products/by-sku?skus=${b},NOPE-1,${a},${b}` });
        expect(reply.status).toBe(200);
        expect(reply.body.items).toEqual([
          { sku: b, productId: created.body.id, productName: 'Lookup Kettle', title: 'Large', price: { amount: 2500, currency: 'USD' } },
          { sku: a, productId: created.body.id, productName: 'Lookup Kettle', title: 'Small', price: { amount: 1500, currency: 'USD' } },
        ]);
        for (const bad of ['', ',,,', 'has space', "x';drop table catalog.variants;--"]) {
          const r = await call<ProblemBody>(h.app, { method: 'GET', url: '/products/by-sku', query: { skus: bad } });
          expect(r.status, bad).toBe(400);
          expect(r.body.errors?.[0]?.path).toBe('skus');
        }
        expect((await call<ProblemBody>(h.app, { method: 'GET', url: '/products/by-sku' })).status).toBe(400);
      });
    });

    describe('categories', () => {
      it('counts products per category', async () => {
        await create(productBody({ category: 'count-me' }));
        await create(productBody({ category: 'count-me' }));
        await create(productBody({ category: 'count-me-too' }));
        const reply = await call<catalog.CategoryList>(h.app, { method: 'GET', url: '/categories' });
        expect(reply.status).toBe(200);
        expect(reply.body.items).toContainEqual({ category: 'count-me', productCount: 2 });
        expect(reply.body.items).toContainEqual({ category: 'count-me-too', productCount: 1 });
        const names = reply.body.items.map((i) => i.category);
        expect(names).toEqual([...names].sort());
      });
    });

    it('hands the runner a database readiness check that passes', async () => {
      expect(h.readiness.map((c) => c.name)).toEqual(['database']);
      for (const check of h.readiness) await expect(check.check()).resolves.toBeUndefined();
    });
  });
}
