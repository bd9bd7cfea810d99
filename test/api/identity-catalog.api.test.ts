import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackends } from '@agora/platform/testing';
import { ADMIN, startSystem, type RunningSystem } from '../support/system.js';
import { Api, uniqueEmail } from '../support/http.js';
import { expectFieldError, expectProblem } from '../support/shop.js';

interface User {
  id: string;
  email: string;
  name: string;
  role: string;
}
interface Variant {
  sku: string;
  title: string;
  price: { amount: number; currency: string };
  available: number;
}
interface Product {
  id: string;
  name: string;
  description: string;
  category: string;
  variants: Variant[];
}
interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** The identity and catalog routes of docs/api.md, through the gateway over HTTP, on every backend. */
for (const backend of testBackends) {
  describe.runIf(await backend.available())(`identity and catalog API on ${backend.kind}`, () => {
    let system: RunningSystem;
    let api: Api;
    let adminToken: string;
    let shopper: { user: User; token: string };
    const suffix = Math.random().toString(36).slice(2, 8).toUpperCase();

    beforeAll(async () => {
      system = await startSystem(backend);
      api = new Api(system.baseUrl);
      const login = await api.post<{ token: string }>('/api/v1/auth/login', ADMIN);
      expect(login.status).toBe(200);
      adminToken = login.body.token;
      const email = uniqueEmail();
      const reg = await api.post<{ user: User; token: string }>('/api/v1/auth/register', { email, password: 'correct horse', name: 'Sam Shopper' });
      expect(reg.status).toBe(201);
      shopper = reg.body;
    });
    afterAll(async () => system?.stop());

    describe('identity', () => {
      it('registers a customer and returns a working token', async () => {
        const email = uniqueEmail();
        const res = await api.post<{ user: User; token: string }>('/api/v1/auth/register', { email, password: 'longenough', name: 'Ada' });
        expect(res.status).toBe(201);
        expect(res.body.user).toMatchObject({ email, name: 'Ada', role: 'customer' });
        expect(res.body.user.id).toMatch(/^[0-9a-f-]{36}$/);
        const me = await api.get<User>('/api/v1/me', { token: res.body.token });
        expect(me.status).toBe(200);
        expect(me.body).toEqual(res.body.user);
      });

      it('refuses a second registration of the same e-mail, whatever its case', async () => {
        const res = await api.post('/api/v1/auth/register', { email: shopper.user.email.toUpperCase(), password: 'longenough', name: 'Copy' });
        expectProblem(res, 409, 'EMAIL_TAKEN');
      });

      it('logs in with the right password only', async () => {
        const ok = await api.post<{ user: User; token: string }>('/api/v1/auth/login', { email: shopper.user.email, password: 'correct horse' });
        expect(ok.status).toBe(200);
        expect(ok.body.user.id).toBe(shopper.user.id);
        expectProblem(await api.post('/api/v1/auth/login', { email: shopper.user.email, password: 'wrong horse' }), 401, 'INVALID_CREDENTIALS');
        expectProblem(await api.post('/api/v1/auth/login', { email: uniqueEmail('nobody'), password: 'whatever1' }), 401, 'INVALID_CREDENTIALS');
      });

      it('gives the configured admin the admin role', async () => {
        const me = await api.get<User>('/api/v1/me', { token: adminToken });
        expect(me.body).toMatchObject({ email: ADMIN.email, role: 'admin' });
      });

      it('answers 401 without, with a garbage or a tampered token', async () => {
        expectProblem(await api.get('/api/v1/me'), 401, 'UNAUTHENTICATED');
        expectProblem(await api.get('/api/v1/me', { token: 'not-a-jwt' }), 401, 'UNAUTHENTICATED');
        const [h, p, s] = shopper.token.split('.');
        const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
        const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, role: 'admin' })).toString('base64url')}.${s}`;
        expectProblem(await api.get('/api/v1/me', { token: forged }), 401, 'UNAUTHENTICATED');
        expectProblem(await api.get('/api/v1/me', { headers: { authorization: 'Basic abc' } }), 401, 'UNAUTHENTICATED');
      });

      it('names the field of every validation error', async () => {
        expectFieldError(await api.post('/api/v1/auth/register', { password: 'longenough', name: 'x' }), 'email');
        expectFieldError(await api.post('/api/v1/auth/register', { email: 'not-an-email', password: 'longenough', name: 'x' }), 'email');
        expectFieldError(await api.post('/api/v1/auth/register', { email: uniqueEmail(), password: 'short', name: 'x' }), 'password');
        expectFieldError(await api.post('/api/v1/auth/register', { email: uniqueEmail(), password: 'x'.repeat(129), name: 'x' }), 'password');
        expectFieldError(await api.post('/api/v1/auth/register', { email: uniqueEmail(), password: 12345678, name: 'x' }), 'password');
        expectFieldError(await api.post('/api/v1/auth/register', { email: uniqueEmail(), password: 'longenough' }), 'name');
        expectFieldError(await api.post('/api/v1/auth/login', { email: shopper.user.email }), 'password');
      });
    });

    describe('catalog', () => {
      let created: Product;

      it('lets an admin create a product with variants and prices', async () => {
        const res = await api.post<Product>(
          '/api/v1/admin/products',
          {
            name: 'Trail Runner 3',
            description: 'A lightweight waterproof running shoe for muddy trails',
            category: 'sports',
            variants: [
              { sku: `TR3-42-${suffix}`, title: 'EU 42', price: { amount: 12999, currency: 'USD' } },
              { sku: `TR3-43-${suffix}`, title: 'EU 43', price: { amount: 12999, currency: 'USD' } },
            ],
          },
          { token: adminToken },
        );
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        created = res.body;
        expect(created).toMatchObject({ name: 'Trail Runner 3', category: 'sports' });
        expect(created.variants).toHaveLength(2);
        expect(created.variants[0]).toMatchObject({ sku: `TR3-42-${suffix}`, title: 'EU 42', price: { amount: 12999, currency: 'USD' }, available: 0 });
      });

      it('gets a product by id with availability from inventory', async () => {
        const put = await api.put(`/api/v1/admin/inventory/TR3-42-${suffix}`, { onHand: 7 }, { token: adminToken });
        expect(put.status).toBe(200);
        expect(put.body).toEqual({ sku: `TR3-42-${suffix}`, onHand: 7, reserved: 0, available: 7 });
        const res = await api.get<Product>(`/api/v1/products/${created.id}`);
        expect(res.status).toBe(200);
        expect(res.body.variants.find((v) => v.sku === `TR3-42-${suffix}`)?.available).toBe(7);
        const stock = await api.get(`/api/v1/inventory/TR3-42-${suffix}`);
        expect(stock.body).toEqual({ sku: `TR3-42-${suffix}`, available: 7 });
      });

      it('updates a product partially', async () => {
        const res = await api.patch<Product>(`/api/v1/admin/products/${created.id}`, { name: 'Trail Runner 3 GTX' }, { token: adminToken });
        expect(res.status).toBe(200);
        expect(res.body.name).toBe('Trail Runner 3 GTX');
        expect(res.body.variants).toHaveLength(2);
        expect(res.body.description).toBe(created.description);
      });

      it('finds products by full-text search and filters by category', async () => {
        const byWord = await api.get<Page<Product>>('/api/v1/products?q=waterproof%20trails');
        expect(byWord.status).toBe(200);
        expect(byWord.body.items.map((p) => p.id)).toContain(created.id);
        const byCategory = await api.get<Page<Product>>('/api/v1/products?category=sports&limit=100');
        expect(byCategory.body.items.every((p) => p.category === 'sports')).toBe(true);
        expect(byCategory.body.items.map((p) => p.id)).toContain(created.id);
        const none = await api.get<Page<Product>>('/api/v1/products?category=sports&q=zzzznotaword');
        expect(none.body.items).toEqual([]);
        expect(none.body.nextCursor).toBeNull();
      });

      it('answers 404 for an unknown product and 400 or 404 for a malformed id', async () => {
        expectProblem(await api.get('/api/v1/products/01900000-0000-7000-8000-000000000000'), 404, 'NOT_FOUND');
        const bad = await api.get('/api/v1/products/not-a-uuid');
        expect([400, 404]).toContain(bad.status);
      });

      it('keeps admin routes for admins: 401 anonymous, 403 customer', async () => {
        const body = { name: 'X', description: 'x', category: 'toys', variants: [{ sku: `X-${suffix}`, title: 'x', price: { amount: 1, currency: 'USD' } }] };
        expectProblem(await api.post('/api/v1/admin/products', body), 401, 'UNAUTHENTICATED');
        expectProblem(await api.post('/api/v1/admin/products', body, { token: shopper.token }), 403, 'FORBIDDEN');
        expectProblem(await api.put(`/api/v1/admin/inventory/X-${suffix}`, { onHand: 1 }, { token: shopper.token }), 403, 'FORBIDDEN');
        const spoofed = await api.post('/api/v1/admin/products', body, { token: shopper.token, headers: { 'x-agora-user-role': 'admin' } });
        expectProblem(spoofed, 403, 'FORBIDDEN');
      });

      it('validates product bodies naming the field', async () => {
        const base = { name: 'Valid', description: 'd', category: 'toys', variants: [{ sku: `V-${suffix}`, title: 't', price: { amount: 100, currency: 'USD' } }] };
        const opts = { token: adminToken };
        expectFieldError(await api.post('/api/v1/admin/products', { ...base, name: undefined }, opts), 'name');
        expectFieldError(await api.post('/api/v1/admin/products', { ...base, variants: [] }, opts), 'variants');
        expectFieldError(await api.post('/api/v1/admin/products', { ...base, variants: [{ ...base.variants[0], price: { amount: -1, currency: 'USD' } }] }, opts), 'variants[0].price.amount');
        expectFieldError(await api.post('/api/v1/admin/products', { ...base, variants: [{ ...base.variants[0], price: { amount: 9.99, currency: 'USD' } }] }, opts), 'variants[0].price.amount');
        expectFieldError(await api.post('/api/v1/admin/products', { ...base, variants: [{ ...base.variants[0], price: { amount: 100, currency: 'dollars' } }] }, opts), 'variants[0].price.currency');
        expectFieldError(await api.put(`/api/v1/admin/inventory/V-${suffix}`, { onHand: -3 }, opts), 'onHand');
      });

      it('refuses a SKU that another product already has', async () => {
        const res = await api.post(
          '/api/v1/admin/products',
          { name: 'Clone', description: 'd', category: 'toys', variants: [{ sku: `TR3-42-${suffix}`, title: 't', price: { amount: 1, currency: 'USD' } }] },
          { token: adminToken },
        );
        expectProblem(res, 409, 'CONFLICT');
      });

      it('walks every product exactly once with cursor pagination', async () => {
        for (let i = 0; i < 12; i++) {
          const res = await api.post(
            '/api/v1/admin/products',
            { name: `Pager ${i}`, description: 'pagination fixture', category: 'office', variants: [{ sku: `PG-${i}-${suffix}`, title: 't', price: { amount: 100 + i, currency: 'USD' } }] },
            { token: adminToken },
          );
          expect(res.status).toBe(201);
        }
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const path: string = `/api/v1/products?category=office&limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const res = await api.get<Page<Product>>(path);
          expect(res.status).toBe(200);
          expect(res.body.items.length).toBeLessThanOrEqual(5);
          seen.push(...res.body.items.map((p) => p.id));
          cursor = res.body.nextCursor;
          pages += 1;
        } while (cursor !== null && pages < 20);
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen.length).toBeGreaterThanOrEqual(12);
      });

      it('validates list parameters', async () => {
        expectFieldError(await api.get('/api/v1/products?limit=0'), 'limit');
        expectFieldError(await api.get('/api/v1/products?limit=101'), 'limit');
        expectFieldError(await api.get('/api/v1/products?limit=ten'), 'limit');
        expectFieldError(await api.get('/api/v1/products?cursor=garbage!!'), 'cursor');
        expectFieldError(await api.get(`/api/v1/products?cursor=${Buffer.from('{"id":"x\'; drop table"}').toString('base64url')}`), 'cursor');
      });
    });

    describe('hostile input never gives a 5xx', () => {
      it('handles SQL-looking, unicode and oversized search strings', async () => {
        const queries = ["'; DROP TABLE catalog.products; --", '%_\\', '"unbalanced', '(((', 'a & | ! b', ':*', '\u0000', '🛒 émoji ünïcode', "' OR 1=1 --", '<script>alert(1)</script>'];
        for (const q of queries) {
          const res = await api.get(`/api/v1/products?q=${encodeURIComponent(q)}`);
          expect(res.status, `${q} → ${res.text}`).toBeLessThan(500);
        }
        const long = await api.get(`/api/v1/products?q=${'a'.repeat(5000)}`);
        expect(long.status).toBeLessThan(500);
      });

      it('answers malformed JSON, wrong content types and huge bodies with problem+json', async () => {
        expectProblem(await api.request('POST', '/api/v1/auth/login', { rawBody: '{"email": ' }), 400, 'VALIDATION_FAILED');
        expectProblem(await api.request('POST', '/api/v1/auth/login', { rawBody: '[]' }), 400, 'VALIDATION_FAILED');
        expectProblem(await api.request('POST', '/api/v1/auth/login', { rawBody: 'null' }), 400, 'VALIDATION_FAILED');
        const wrongType = await api.request('POST', '/api/v1/auth/login', { rawBody: 'email=x', headers: { 'content-type': 'text/plain' } });
        expect([400, 415]).toContain(wrongType.status);
        const huge = await api.request('POST', '/api/v1/auth/register', { rawBody: JSON.stringify({ email: 'a@b.co', password: 'x'.repeat(2 * 1024 * 1024), name: 'x' }) });
        expectProblem(huge, 413, 'PAYLOAD_TOO_LARGE');
        const proto = await api.request('POST', '/api/v1/auth/login', { rawBody: '{"__proto__": {"admin": true}, "email": "a@b.co", "password": "x"}' });
        expect(proto.status).toBeLessThan(500);
      });

      it('answers unknown routes with a 404 problem', async () => {
        expectProblem(await api.get('/api/v1/nothing-here'), 404, 'NOT_FOUND');
        expectProblem(await api.request('DELETE', '/api/v1/products'), 404, 'NOT_FOUND');
      });
    });

    describe('operations', () => {
      it('echoes x-request-id and makes one when absent', async () => {
        const echoed = await api.get('/api/v1/products?limit=1', { headers: { 'x-request-id': 'trace-abc-123' } });
        expect(echoed.headers.get('x-request-id')).toBe('trace-abc-123');
        const made = await api.get('/api/v1/nothing');
        expect(made.headers.get('x-request-id')).toMatch(/.+/);
      });

      it('serves health, readiness, metrics and the OpenAPI document', async () => {
        expect((await api.get('/health/live')).status).toBe(200);
        expect((await api.get('/health/ready')).status).toBe(200);
        const metrics = await api.get('/metrics');
        expect(metrics.status).toBe(200);
        expect(metrics.text).toContain('agora_http_request_duration_seconds');
        const doc = await api.get<{ openapi: string; paths: Record<string, unknown> }>('/api/openapi.json');
        expect(doc.status).toBe(200);
        for (const path of ['/api/v1/auth/register', '/api/v1/auth/login', '/api/v1/me', '/api/v1/products', '/api/v1/admin/products']) {
          expect(Object.keys(doc.body.paths)).toContain(path);
        }
        const ui = await api.get('/api/docs');
        expect(ui.status).toBeLessThan(400);
      });
    });
  });
}
