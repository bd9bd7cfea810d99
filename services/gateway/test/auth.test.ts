import { afterEach, describe, expect, it } from 'vitest';
import { TokenService } from '@agora/platform';

const CALLER_ID_HEADER = 'x-agora-user-id';
const CALLER_ROLE_HEADER = 'x-agora-user-role';
import { CUSTOMER_ID, bearer, buildGateway, json, type TestGateway } from './fakes.js';

const PRODUCT_ID = '01900000-0000-7000-8000-0000000000aa';
const PRODUCT = { id: PRODUCT_ID, name: 'Tee', description: '', category: 'tops', variants: [], createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' };
const USER = { id: CUSTOMER_ID, email: 'ann@example.com', name: 'Ann', role: 'customer' };

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.app.close();
  gw = undefined;
});

describe('internal caller headers', () => {
  it('never lets a spoofed x-agora-user-* header from outside reach a service', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'GET', '/categories', json(200, { items: [] }));
    const res = await gw.app.inject({
      method: 'GET',
      url: '/api/v1/categories',
      headers: { [CALLER_ID_HEADER]: 'someone-else', [CALLER_ROLE_HEADER]: 'admin', 'x-agora-anything': '1' },
    });
    expect(res.statusCode).toBe(200);
    const [call] = gw.transport.callsTo('catalog');
    expect(Object.keys(call?.headers ?? {}).filter((h) => h.startsWith('x-agora-'))).toEqual([]);
    expect(call?.caller).toBeUndefined();
  });

  it('names the caller proven by the token, never the spoofed headers', async () => {
    gw = await buildGateway();
    gw.transport.on('identity', 'GET', `/users/${CUSTOMER_ID}`, json(200, USER));
    const res = await gw.app.inject({
      method: 'GET',
      url: '/api/v1/me',
      headers: { ...bearer(gw.customerToken), [CALLER_ID_HEADER]: 'someone-else', [CALLER_ROLE_HEADER]: 'admin' },
    });
    expect(res.statusCode).toBe(200);
    const [call] = gw.transport.callsTo('identity');
    expect(call?.path).toBe(`/users/${CUSTOMER_ID}`);
    expect(call?.caller).toEqual({ userId: CUSTOMER_ID, role: 'customer' });
    expect(Object.keys(call?.headers ?? {}).filter((h) => h.startsWith('x-agora-'))).toEqual([]);
  });

  it('does not make a customer an admin by a spoofed role header', async () => {
    gw = await buildGateway();
    const res = await gw.app.inject({
      method: 'PUT',
      url: '/api/v1/admin/inventory/TEE',
      headers: { ...bearer(gw.customerToken), [CALLER_ROLE_HEADER]: 'admin' },
      payload: { onHand: 5 },
    });
    expect(res.statusCode).toBe(403);
    expect(gw.transport.calls).toHaveLength(0);
  });
});

describe('401 and 403', () => {
  it('answers 401 UNAUTHENTICATED without a token on a signed-in route', async () => {
    gw = await buildGateway();
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/me' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(gw.transport.calls).toHaveLength(0);
  });

  it.each([
    ['a garbage token', 'Bearer not-a-jwt'],
    ['another scheme', 'Basic YWxhZGRpbjpvcGVuc2VzYW1l'],
    ['a bare word', 'Bearer'],
  ])('answers 401 for %s', async (_what, authorization) => {
    gw = await buildGateway();
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization } });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('answers 401 for a token signed with another secret', async () => {
    gw = await buildGateway();
    const forged = await new TokenService('another-secret-that-is-also-32-bytes-long!!').sign({ sub: CUSTOMER_ID, role: 'admin', email: 'x@example.com' });
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(forged) });
    expect(res.statusCode).toBe(401);
  });

  it('answers 401 saying the token expired', async () => {
    gw = await buildGateway();
    const expired = await gw.tokens.sign({ sub: CUSTOMER_ID, role: 'customer', email: 'ann@example.com' }, new Date(Date.now() - 2 * 24 * 3600 * 1000));
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(expired) });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED', detail: 'Token has expired' });
  });

  it('answers 401 on admin routes without a token and 403 FORBIDDEN for a customer', async () => {
    gw = await buildGateway();
    const body = { name: 'Tee', description: '', category: 'tops', variants: [{ sku: 'TEE', title: 'Tee', price: { amount: 100, currency: 'USD' } }] };
    const anonymous = await gw.app.inject({ method: 'POST', url: '/api/v1/admin/products', payload: body });
    expect(anonymous.statusCode).toBe(401);
    const customer = await gw.app.inject({ method: 'POST', url: '/api/v1/admin/products', headers: bearer(gw.customerToken), payload: body });
    expect(customer.statusCode).toBe(403);
    expect(customer.json()).toMatchObject({ code: 'FORBIDDEN' });
    const patch = await gw.app.inject({ method: 'PATCH', url: `/api/v1/admin/products/${PRODUCT_ID}`, headers: bearer(gw.customerToken), payload: { name: 'x' } });
    expect(patch.statusCode).toBe(403);
    expect(gw.transport.calls).toHaveLength(0);
  });

  it('checks access before reading the body', async () => {
    gw = await buildGateway();
    const res = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/admin/products',
      headers: { 'content-type': 'application/json' },
      payload: '{ not json',
    });
    expect(res.statusCode).toBe(401);
  });

  it('lets an admin through', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'PATCH', `/products/${PRODUCT_ID}`, json(200, PRODUCT));
    const res = await gw.app.inject({ method: 'PATCH', url: `/api/v1/admin/products/${PRODUCT_ID}`, headers: bearer(gw.adminToken), payload: { name: 'Tee' } });
    expect(res.statusCode).toBe(200);
  });

  it('serves public routes to a caller whose token is bad, as anonymous', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'GET', '/categories', json(200, { items: [] }));
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/categories', headers: { authorization: 'Bearer stale' } });
    expect(res.statusCode).toBe(200);
    const [call] = gw.transport.callsTo('catalog');
    expect(call?.caller).toBeUndefined();
  });

  it('passes the caller to services on public routes when the token is valid', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'GET', '/categories', json(200, { items: [] }));
    await gw.app.inject({ method: 'GET', url: '/api/v1/categories', headers: bearer(gw.customerToken) });
    const [call] = gw.transport.callsTo('catalog');
    expect(call?.caller?.userId).toBe(CUSTOMER_ID);
  });

  it('refuses to build a gateway with an admin route that does not require the admin role', async () => {
    await expect(
      buildGateway({
        web: (app) => {
          app.get('/api/v1/admin/oops', async () => ({ ok: true }));
        },
      }),
    ).rejects.toThrow(/must declare config.access = 'admin'/);
  });
});
