import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@agora/kernel';
import {
  AssertingTransport,
  CALLER_ASSERTION_HEADER,
  CallerAssertionSigner,
  InProcessTransport,
  createHttpApp,
  createLogger,
  registerOperationalRoutes,
  requireAdmin,
  requireCaller,
  verifiedCallOf,
  type HttpApp,
} from '../src/index.js';
import { TEST_INTERNAL_SECRET, callerHeaders, guardForTests } from '../src/testing/index.js';

/** The guarded routes of one service, `inventory`, as the composition roots serve them. */
describe('the caller a service is told about', () => {
  let app: HttpApp;
  let writes = 0;
  const admin = { userId: newId(), role: 'admin' as const };

  beforeAll(async () => {
    app = createHttpApp({ name: 'inventory', logger: createLogger('caller-test', 'silent') });
    app.get('/me', async (request) => requireCaller(request));
    app.get('/call', async (request) => verifiedCallOf(request) ?? null);
    app.put('/admin-only', async (request) => {
      requireAdmin(request);
      writes += 1;
      return { writes };
    });
    registerOperationalRoutes(app, () => []);
    guardForTests(app, 'inventory');
    await app.ready();
  });
  afterAll(async () => app.close());

  it('a valid assertion names the caller', async () => {
    const ok = await app.inject({ method: 'GET', url: '/me', headers: await callerHeaders('inventory', admin) });
    expect(ok.json()).toEqual(admin);
    const own = await app.inject({ method: 'GET', url: '/call', headers: await callerHeaders('inventory', undefined, 'order') });
    expect(own.json()).toEqual({ issuer: 'order' });
  });

  it('no assertion is a 401 problem on every route but the operational ones, unknown paths included', async () => {
    for (const url of ['/me', '/call', '/nowhere']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    }
    expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
  });

  it('bare identity headers grant nothing, with or without an assertion', async () => {
    const spoof = { 'x-agora-user-id': admin.userId, 'x-agora-user-role': 'admin' };
    const bare = await app.inject({ method: 'PUT', url: '/admin-only', headers: spoof });
    expect(bare.statusCode).toBe(401);
    const ownCall = await app.inject({ method: 'PUT', url: '/admin-only', headers: { ...spoof, ...(await callerHeaders('inventory', undefined, 'order')) } });
    expect(ownCall.statusCode).toBe(401);
    const customer = await app.inject({ method: 'PUT', url: '/admin-only', headers: { ...spoof, ...(await callerHeaders('inventory', { userId: newId(), role: 'customer' })) } });
    expect(customer.statusCode).toBe(403);
    expect(writes).toBe(0);
    const granted = await app.inject({ method: 'PUT', url: '/admin-only', headers: await callerHeaders('inventory', admin) });
    expect(granted.json()).toEqual({ writes: 1 });
  });

  it('a value that is not a token is a 400 naming the header; a forged one a 401', async () => {
    const malformed = await app.inject({ method: 'GET', url: '/me', headers: { [CALLER_ASSERTION_HEADER]: 'admin' } });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: `headers.${CALLER_ASSERTION_HEADER}` }] });
    const forged = await new CallerAssertionSigner('a-secret-that-is-not-the-cluster-secret-0123').assertion('gateway', 'inventory', admin);
    expect((await app.inject({ method: 'GET', url: '/me', headers: { [CALLER_ASSERTION_HEADER]: forged } })).statusCode).toBe(401);
  });

  it('an asserting transport signs as its process, names the request’s caller and replaces an assertion it was handed', async () => {
    const inner = new InProcessTransport();
    inner.register('inventory', app);
    const transport = new AssertingTransport(inner, new CallerAssertionSigner(TEST_INTERNAL_SECRET), 'cart');
    const forged = await new CallerAssertionSigner('a-secret-that-is-not-the-cluster-secret-0123').assertion('gateway', 'inventory', admin);
    const call = await transport.request('inventory', { method: 'GET', path: '/call', headers: { 'X-Agora-Caller': forged }, caller: admin });
    expect(call.body).toEqual({ issuer: 'cart', caller: admin });
    const bare = await inner.request('inventory', { method: 'GET', path: '/me', caller: admin });
    expect(bare.status).toBe(401);
  });
});
