import { afterEach, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { CUSTOMER_ID, bearer, buildGateway, json, type TestGateway } from './fakes.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.app.close();
  gw = undefined;
});

async function limited(options: { perMinute?: number; authPerMinute?: number; enabled?: boolean; trustProxy?: boolean } = {}): Promise<TestGateway> {
  const built = await buildGateway({
    config: {
      rateLimits: { enabled: options.enabled ?? true, perMinute: options.perMinute ?? 3, authPerMinute: options.authPerMinute ?? 2, flashSalePurchasesPerSecond: 5_000 },
      trustProxy: options.trustProxy ?? false,
    },
  });
  built.transport.on('catalog', 'GET', '/categories', json(200, { items: [] }));
  built.transport.on('identity', 'POST', '/auth/login', json(200, { user: {}, token: 't' }));
  built.transport.on('identity', 'GET', `/users/${CUSTOMER_ID}`, json(200, { id: CUSTOMER_ID }));
  return built;
}

async function times(n: number, send: () => Promise<LightMyRequestResponse>): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await send()).statusCode);
  return statuses;
}

function expectRateLimited(res: LightMyRequestResponse): void {
  expect(res.statusCode).toBe(429);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
  expect(res.headers['x-request-id']).toBeDefined();
  expect(res.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
}

describe('rate limits', () => {
  it('answers 429 RATE_LIMITED with retry-after once a client IP used its budget', async () => {
    gw = await limited({ perMinute: 3 });
    const app = gw.app;
    expect(await times(3, () => app.inject({ method: 'GET', url: '/api/v1/categories' }))).toEqual([200, 200, 200]);
    const refused = await app.inject({ method: 'GET', url: '/api/v1/categories' });
    expectRateLimited(refused);
    expect(gw.transport.callsTo('catalog')).toHaveLength(3);
    expect(await gw.metrics.text()).toMatch(/agora_gateway_rate_limited_total\{route="\/api\/v1\/categories"\} 1/);

    const otherClient = await app.inject({ method: 'GET', url: '/api/v1/categories', remoteAddress: '10.1.2.3' });
    expect(otherClient.statusCode).toBe(200);
  });

  it('keys on the user when a valid token is present, wherever it calls from', async () => {
    gw = await limited({ perMinute: 2 });
    const app = gw.app;
    const token = gw.customerToken;
    const asUser = (remoteAddress: string) => app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(token), remoteAddress });
    expect((await asUser('10.0.0.1')).statusCode).toBe(200);
    expect((await asUser('10.0.0.2')).statusCode).toBe(200);
    expectRateLimited(await asUser('10.0.0.3'));

    // The user's budget is not the address's: an anonymous caller on the same address still gets through.
    expect((await app.inject({ method: 'GET', url: '/api/v1/categories', remoteAddress: '10.0.0.1' })).statusCode).toBe(200);
    // A bad token does not buy a fresh budget: it is keyed on the address like anyone anonymous.
    expect((await app.inject({ method: 'GET', url: '/api/v1/categories', remoteAddress: '10.0.0.1', headers: { authorization: 'Bearer junk' } })).statusCode).toBe(200);
    expectRateLimited(await app.inject({ method: 'GET', url: '/api/v1/categories', remoteAddress: '10.0.0.1', headers: { authorization: 'Bearer other-junk' } }));
  });

  it('is stricter on login (per IP), separately from the global budget', async () => {
    gw = await limited({ perMinute: 100, authPerMinute: 2 });
    const app = gw.app;
    const login = (remoteAddress = '127.0.0.1') =>
      app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'a@example.com', password: 'secret' }, remoteAddress });
    expect(await times(2, () => login())).toEqual([200, 200]);
    expectRateLimited(await login());
    expect((await login('10.9.9.9')).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/v1/categories' })).statusCode).toBe(200);
  });

  it('limits register the same way', async () => {
    gw = await limited({ perMinute: 100, authPerMinute: 1 });
    gw.transport.on('identity', 'POST', '/auth/register', json(201, { user: {}, token: 't' }));
    const register = () => gw!.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'a@example.com', password: 'long enough', name: 'A' } });
    expect((await register()).statusCode).toBe(201);
    expectRateLimited(await register());
  });

  it('ignores X-Forwarded-For unless told to trust the proxy', async () => {
    gw = await limited({ perMinute: 1 });
    const app = gw.app;
    const spoofed = (ip: string) => app.inject({ method: 'GET', url: '/api/v1/categories', headers: { 'x-forwarded-for': ip } });
    expect((await spoofed('1.1.1.1')).statusCode).toBe(200);
    expectRateLimited(await spoofed('2.2.2.2'));
  });

  it('limits per forwarded client address behind a trusted proxy', async () => {
    gw = await limited({ perMinute: 1, trustProxy: true });
    const app = gw.app;
    const viaProxy = (ip: string) => app.inject({ method: 'GET', url: '/api/v1/categories', headers: { 'x-forwarded-for': ip } });
    expect((await viaProxy('1.1.1.1')).statusCode).toBe(200);
    expectRateLimited(await viaProxy('1.1.1.1'));
    expect((await viaProxy('2.2.2.2')).statusCode).toBe(200);
  });

  it('never limits health and metrics', async () => {
    gw = await limited({ perMinute: 1 });
    const app = gw.app;
    for (const url of ['/health/live', '/health/ready', '/metrics']) {
      expect(await times(4, () => app.inject({ method: 'GET', url }))).toEqual([200, 200, 200, 200]);
    }
  });

  it('is off when the config says off', async () => {
    gw = await limited({ enabled: false, perMinute: 1, authPerMinute: 1 });
    const app = gw.app;
    expect(await times(5, () => app.inject({ method: 'GET', url: '/api/v1/categories' }))).toEqual([200, 200, 200, 200, 200]);
    expect(await times(5, () => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'a@example.com', password: 'x' } }))).toEqual([
      200, 200, 200, 200, 200,
    ]);
  });
});
