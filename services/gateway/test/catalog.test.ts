import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '@agora/kernel';
import type { CatalogPort } from '@agora/contracts';
import type { ServiceRequest } from '@agora/platform';
import { inventory } from '@agora/contracts';
import { DEGRADED_HEADER } from '../src/index.js';
import { bearer, buildGateway, json, problem, type TestGateway } from './fakes.js';

const ID_1 = '01900000-0000-7000-8000-0000000000a1';
const ID_2 = '01900000-0000-7000-8000-0000000000a2';
const USD = (amount: number) => ({ amount, currency: 'USD' });

function catalogProduct(id: string, skus: string[]) {
  return {
    id,
    name: `Product ${id.slice(-2)}`,
    description: 'A thing',
    category: 'tops',
    variants: skus.map((sku) => ({ sku, title: sku, price: USD(1999) })),
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}

/** Inventory's batch endpoint over a stock table; unknown SKUs are simply absent. */
function inventoryBatch(stock: Record<string, number>) {
  return (request: ServiceRequest) => {
    const skus = new URL(request.path, 'http://x').searchParams.get('skus')?.split(',') ?? [];
    return json(200, { items: skus.filter((s) => s in stock).map((sku) => ({ sku, available: stock[sku] })) });
  };
}

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.app.close();
  gw = undefined;
});

describe('product list with availability', () => {
  it('adds available to every variant from one batch call, missing SKUs at 0', async () => {
    gw = await buildGateway();
    const page = { items: [catalogProduct(ID_1, ['A-1', 'A-2']), catalogProduct(ID_2, ['B-1'])], nextCursor: 'next-page' };
    gw.transport.on('catalog', 'GET', '/products', json(200, page));
    gw.transport.on('inventory', 'GET', '/inventory', inventoryBatch({ 'A-1': 5, 'B-1': 0 }));

    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/products?q=shirt&category=tops&limit=2&cursor=abc' });
    expect(res.statusCode).toBe(200);
    expect(res.headers[DEGRADED_HEADER]).toBeUndefined();
    const body = res.json();
    expect(body.nextCursor).toBe('next-page');
    expect(body.items.map((p: { variants: { sku: string; available: number }[] }) => p.variants.map((v) => [v.sku, v.available]))).toEqual([
      [['A-1', 5], ['A-2', 0]],
      [['B-1', 0]],
    ]);
    expect(body.items[0]).toMatchObject({ id: ID_1, name: 'Product a1', variants: [{ sku: 'A-1', title: 'A-1', price: USD(1999), available: 5 }, expect.anything()] });

    const [catalogCall] = gw.transport.callsTo('catalog');
    const query = new URL(catalogCall?.path ?? '', 'http://x').searchParams;
    expect(Object.fromEntries(query)).toEqual({ q: 'shirt', category: 'tops', limit: '2', cursor: 'abc' });
    const inventoryCalls = gw.transport.callsTo('inventory');
    expect(inventoryCalls).toHaveLength(1);
    expect(inventoryCalls[0]?.path).toBe('/inventory?skus=A-1,A-2,B-1');
  });

  it('asks catalog with the default page size when the client gave none', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'GET', '/products', json(200, { items: [], nextCursor: null }));
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/products' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ items: [], nextCursor: null });
    expect(gw.transport.callsTo('catalog')[0]?.path).toBe('/products?limit=20');
    expect(gw.transport.callsTo('inventory')).toHaveLength(0);
  });

  it('refuses a bad query at the edge naming the field', async () => {
    gw = await buildGateway();
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/products?limit=1000' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ path: 'limit' })] });
    expect(gw.transport.calls).toHaveLength(0);
  });

  it('still answers the list with available 0 when inventory is down (degraded read)', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'GET', '/products', json(200, { items: [catalogProduct(ID_1, ['A-1'])], nextCursor: null }));
    gw.transport.down('inventory');
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/products' });
    expect(res.statusCode).toBe(200);
    expect(res.headers[DEGRADED_HEADER]).toBe('inventory');
    expect(res.json().items[0].variants[0]).toMatchObject({ sku: 'A-1', available: 0 });
    expect(await gw.metrics.text()).toMatch(/agora_gateway_degraded_reads_total\{dependency="inventory"\} 1/);
  });

  it('still answers when inventory answers an error or nonsense', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'GET', '/products', json(200, { items: [catalogProduct(ID_1, ['A-1'])], nextCursor: null }));
    gw.transport.on('inventory', 'GET', '/inventory', problem('INTERNAL', 'boom'));
    const failed = await gw.app.inject({ method: 'GET', url: '/api/v1/products' });
    expect(failed.statusCode).toBe(200);
    expect(failed.json().items[0].variants[0].available).toBe(0);

    gw.transport.on('inventory', 'GET', '/inventory', json(200, { nope: true }));
    const nonsense = await gw.app.inject({ method: 'GET', url: '/api/v1/products' });
    expect(nonsense.statusCode).toBe(200);
    expect(nonsense.headers[DEGRADED_HEADER]).toBe('inventory');
  });

  it('answers 503 naming catalog when catalog itself is down', async () => {
    gw = await buildGateway();
    gw.transport.down('catalog');
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/products' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'UNAVAILABLE', service: 'catalog' });
  });

  it('splits a huge page into a few inventory calls so each URL stays short', () => {
    const skus = Array.from({ length: 5000 }, (_, i) => `SKU-${String(i).padStart(10, '0')}`);
    const batches = inventory.skuBatches(skus);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.flat()).toEqual(skus);
    for (const batch of batches) expect(batch.join(',').length).toBeLessThanOrEqual(4_000);
    expect(inventory.skuBatches(['A', 'B'])).toEqual([['A', 'B']]);
  });
});

describe('one product', () => {
  it('adds availability to a single product', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'GET', `/products/${ID_1}`, json(200, catalogProduct(ID_1, ['A-1'])));
    gw.transport.on('inventory', 'GET', '/inventory', inventoryBatch({ 'A-1': 3 }));
    const res = await gw.app.inject({ method: 'GET', url: `/api/v1/products/${ID_1}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: ID_1, variants: [{ sku: 'A-1', available: 3 }] });
  });

  it('passes 404 through', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'GET', `/products/${ID_2}`, problem('NOT_FOUND', 'product not found'));
    const res = await gw.app.inject({ method: 'GET', url: `/api/v1/products/${ID_2}` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect(gw.transport.callsTo('inventory')).toHaveLength(0);
  });

  it('refuses an id that is not a UUID naming the parameter', async () => {
    gw = await buildGateway();
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/products/not-a-uuid' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ path: 'id' })] });
  });
});

describe('admin product writes', () => {
  const body = { name: 'Tee', description: 'Soft', category: 'tops', variants: [{ sku: 'TEE-M', title: 'M', price: USD(1500) }] };

  it('creates a product and answers it with availability', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'POST', '/products', json(201, catalogProduct(ID_1, ['TEE-M'])));
    gw.transport.on('inventory', 'GET', '/inventory', inventoryBatch({}));
    const res = await gw.app.inject({ method: 'POST', url: '/api/v1/admin/products', headers: { ...bearer(gw.adminToken), 'idempotency-key': 'create-1' }, payload: body });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ id: ID_1, variants: [{ sku: 'TEE-M', available: 0 }] });
    const [call] = gw.transport.callsTo('catalog');
    expect(call).toMatchObject({ method: 'POST', path: '/products', body, headers: { 'idempotency-key': 'create-1' }, caller: { role: 'admin' } });
  });

  it('passes a catalog conflict through', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'POST', '/products', problem('CONFLICT', 'sku TEE-M exists'));
    const res = await gw.app.inject({ method: 'POST', url: '/api/v1/admin/products', headers: bearer(gw.adminToken), payload: body });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'CONFLICT' });
  });

  it('patches a product and refuses an empty patch at the edge', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'PATCH', `/products/${ID_1}`, json(200, catalogProduct(ID_1, ['TEE-M'])));
    gw.transport.on('inventory', 'GET', '/inventory', inventoryBatch({ 'TEE-M': 4 }));
    const res = await gw.app.inject({ method: 'PATCH', url: `/api/v1/admin/products/${ID_1}`, headers: bearer(gw.adminToken), payload: { name: 'New' } });
    expect(res.statusCode).toBe(200);
    expect(res.json().variants[0].available).toBe(4);
    expect(gw.transport.callsTo('catalog')[0]).toMatchObject({ method: 'PATCH', body: { name: 'New' } });

    const empty = await gw.app.inject({ method: 'PATCH', url: `/api/v1/admin/products/${ID_1}`, headers: bearer(gw.adminToken), payload: {} });
    expect(empty.statusCode).toBe(400);
  });
});

describe('storefront reads from a catalog in this process (agora start)', () => {
  /** A catalog port that answers the given texts and counts what it was asked. */
  function inProcessCatalog(product: { json: string; withAvailability: boolean }, page: { json: string; withAvailability: boolean }) {
    const asked: string[] = [];
    const port: CatalogPort = {
      variants: async () => [],
      storefrontProduct: async (id) => {
        asked.push(`product ${id}`);
        if (id !== ID_1) throw new AppError('NOT_FOUND', `Product ${id} not found`);
        return product;
      },
      storefrontPage: async (query) => {
        asked.push(`page ${JSON.stringify(query)}`);
        return page;
      },
    };
    return { port, asked };
  }

  it("sends the catalog's text as it is, with no call through the transport", async () => {
    const product = { ...catalogProduct(ID_1, ['A-1']), variants: [{ sku: 'A-1', title: 'A-1', price: USD(1999), available: 4 }] };
    const catalog = inProcessCatalog({ json: JSON.stringify(product), withAvailability: true }, { json: JSON.stringify({ items: [product], nextCursor: null }), withAvailability: true });
    gw = await buildGateway({ catalog: catalog.port });
    const one = await gw.app.inject({ method: 'GET', url: `/api/v1/products/${ID_1}` });
    expect(one.statusCode).toBe(200);
    expect(one.headers['content-type']).toMatch(/^application\/json/);
    expect(one.json()).toEqual(product);
    const page = await gw.app.inject({ method: 'GET', url: '/api/v1/products?limit=5&q=thing' });
    expect(page.json()).toEqual({ items: [product], nextCursor: null });
    expect(catalog.asked).toEqual([`product ${ID_1}`, 'page {"limit":5,"q":"thing"}']);
    expect(gw.transport.calls).toHaveLength(0);
  });

  it('enriches what the catalog read without availability, through inventory', async () => {
    const bare = catalogProduct(ID_1, ['A-1', 'A-2']);
    const catalog = inProcessCatalog({ json: JSON.stringify(bare), withAvailability: false }, { json: JSON.stringify({ items: [bare], nextCursor: 'n' }), withAvailability: false });
    gw = await buildGateway({ catalog: catalog.port });
    gw.transport.on('inventory', 'GET', '/inventory', inventoryBatch({ 'A-1': 7 }));
    const one = await gw.app.inject({ method: 'GET', url: `/api/v1/products/${ID_1}` });
    expect(one.json().variants.map((v: { sku: string; available: number }) => [v.sku, v.available])).toEqual([['A-1', 7], ['A-2', 0]]);
    const page = await gw.app.inject({ method: 'GET', url: '/api/v1/products' });
    expect(page.json()).toMatchObject({ nextCursor: 'n', items: [{ id: ID_1, variants: [{ sku: 'A-1', available: 7 }, { sku: 'A-2', available: 0 }] }] });
    expect(gw.transport.callsTo('catalog')).toHaveLength(0);
  });

  it('answers a product the catalog does not have 404 as a problem', async () => {
    const catalog = inProcessCatalog({ json: '{}', withAvailability: true }, { json: '{}', withAvailability: true });
    gw = await buildGateway({ catalog: catalog.port });
    const res = await gw.app.inject({ method: 'GET', url: `/api/v1/products/${ID_2}` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
  });
});
