import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '@agora/kernel';
import { bearer, buildGateway, json, type TestGateway } from './fakes.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.app.close();
  gw = undefined;
});

/** Every public route of docs/api.md this issue covers, as OpenAPI paths. */
const PUBLIC_PATHS: Record<string, string[]> = {
  '/api/v1/auth/register': ['post'],
  '/api/v1/auth/login': ['post'],
  '/api/v1/me': ['get'],
  '/api/v1/products': ['get'],
  '/api/v1/products/{id}': ['get'],
  '/api/v1/categories': ['get'],
  '/api/v1/admin/products': ['post'],
  '/api/v1/admin/products/{id}': ['patch'],
  '/api/v1/inventory/{sku}': ['get'],
  '/api/v1/admin/inventory/{sku}': ['get', 'put'],
};

interface OpenApiDoc {
  openapi: string;
  info: { title: string };
  components: { securitySchemes: Record<string, { type: string; scheme: string }> };
  paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown>; parameters?: unknown[]; requestBody?: unknown }>>;
}

describe('errors at the edge are problem+json', () => {
  it('answers an unknown route with 404', async () => {
    gw = await buildGateway();
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('answers malformed JSON with 400', async () => {
    gw = await buildGateway();
    const res = await gw.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"email": ' });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(gw.transport.calls).toHaveLength(0);
  });

  it('answers a body over 1 MiB with 413', async () => {
    gw = await buildGateway();
    const payload = JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(LIMITS.bodyBytes) });
    const res = await gw.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload });
    expect(res.statusCode).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(gw.transport.calls).toHaveLength(0);
  });

  it('answers a missing field with 400 naming it', async () => {
    gw = await buildGateway();
    const res = await gw.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email: 'a@example.com', password: 'long enough' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'name', message: expect.any(String) }] });
  });

  it('answers 415 for a body that is not JSON', async () => {
    gw = await buildGateway();
    const res = await gw.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });
});

describe('request ids', () => {
  it('echoes a sane x-request-id and makes one otherwise', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'GET', '/categories', json(200, { items: [] }));
    const echoed = await gw.app.inject({ method: 'GET', url: '/api/v1/categories', headers: { 'x-request-id': 'abc-123' } });
    expect(echoed.headers['x-request-id']).toBe('abc-123');
    expect(gw.transport.callsTo('catalog')[0]?.headers?.['x-request-id']).toBe('abc-123');

    const made = await gw.app.inject({ method: 'GET', url: '/api/v1/categories', headers: { 'x-request-id': 'bad id with spaces <script>' } });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(gw.transport.callsTo('catalog')[1]?.headers?.['x-request-id']).toBe(made.headers['x-request-id']);
  });

  it('puts one on error answers too', async () => {
    gw = await buildGateway();
    const notFound = await gw.app.inject({ method: 'GET', url: '/nowhere', headers: { 'x-request-id': 'r-404' } });
    expect(notFound.headers['x-request-id']).toBe('r-404');
    const unauthenticated = await gw.app.inject({ method: 'GET', url: '/api/v1/me', headers: { 'x-request-id': 'r-401' } });
    expect(unauthenticated.headers['x-request-id']).toBe('r-401');
  });
});

describe('OpenAPI document and docs UI', () => {
  it('lists every public path with its methods, and bearer auth on the guarded ones', async () => {
    gw = await buildGateway();
    const res = await gw.app.inject({ method: 'GET', url: '/api/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const doc = res.json<OpenApiDoc>();
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('Agora');
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const [path, methods] of Object.entries(PUBLIC_PATHS)) {
      expect(Object.keys(doc.paths[path] ?? {}).sort(), path).toEqual(methods);
    }
    expect(doc.paths['/api/v1/me']?.get?.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/api/v1/admin/products']?.post?.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/api/v1/products']?.get?.security).toEqual([]);
    expect((doc.paths['/api/v1/products']?.get?.parameters as { name: string }[] | undefined)?.map((p) => p.name).sort()).toEqual(['category', 'cursor', 'limit', 'maxPrice', 'minPrice', 'q', 'sort']);
    expect(doc.paths['/api/v1/admin/products']?.post?.requestBody).toBeDefined();
    expect(Object.keys(doc.paths['/api/v1/products/{id}']?.get?.responses ?? {})).toEqual(expect.arrayContaining(['200', '4XX', '5XX']));
  });

  it('hides health, metrics and the docs themselves', async () => {
    gw = await buildGateway();
    const doc = (await gw.app.inject({ method: 'GET', url: '/api/openapi.json' })).json<OpenApiDoc>();
    const paths = Object.keys(doc.paths);
    expect(paths.filter((p) => p.startsWith('/health') || p.startsWith('/metrics') || p.startsWith('/api/docs') || p === '/api/openapi.json')).toEqual([]);
    expect(paths.every((p) => p.startsWith('/api/v1/'))).toBe(true);
  });

  it('serves the Swagger UI at /api/docs from the bundled assets', async () => {
    gw = await buildGateway();
    const res = await gw.app.inject({ method: 'GET', url: '/api/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('swagger-ui');
    const bundle = await gw.app.inject({ method: 'GET', url: '/api/docs/static/swagger-ui-bundle.js' });
    expect(bundle.statusCode).toBe(200);
    const json = await gw.app.inject({ method: 'GET', url: '/api/docs/json' });
    expect(json.json()).toMatchObject({ info: { title: 'Agora' } });
  });
});

describe('operational routes', () => {
  it('answers live, ready and metrics', async () => {
    gw = await buildGateway();
    expect((await gw.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    expect((await gw.app.inject({ method: 'GET', url: '/health/ready' })).json()).toMatchObject({ status: 'ok' });
    await gw.app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer('x') });
    const metrics = await gw.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('agora_http_requests_total{service="gateway",method="GET",route="/api/v1/me",status="401"} 1');
  });

  it('answers 503 on ready naming a failing check, and while draining', async () => {
    let draining = false;
    gw = await buildGateway({
      readiness: [{ name: 'identity', check: async () => { throw new Error('no answer'); } }],
      isDraining: () => draining,
    });
    const failing = await gw.app.inject({ method: 'GET', url: '/health/ready' });
    expect(failing.statusCode).toBe(503);
    expect(failing.json()).toMatchObject({ failing: ['identity'] });
    draining = true;
    expect((await gw.app.inject({ method: 'GET', url: '/health/ready' })).json()).toMatchObject({ status: 'draining' });
  });
});

describe('web app mount', () => {
  it('runs the web hook after the API routes', async () => {
    gw = await buildGateway({
      web: (app) => {
        app.get('/', async (_request, reply) => reply.type('text/html').send('<!doctype html><title>Agora</title>'));
      },
    });
    const res = await gw.app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Agora');
  });
});
