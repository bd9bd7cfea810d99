import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_DEFAULTS, createGateway } from '@agora/gateway';
import { InProcessTransport, Metrics, TokenService, createLogger, type HttpApp } from '@agora/platform';

const INDEX = '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>';
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(4000))});`;

/**
 * How the gateway serves a built web app at `/` (`web: { root }`): files with the right caching,
 * index.html for client routes, and the API's own 404s left alone. No browser needed.
 */
describe('gateway serving the web app', () => {
  let root: string;
  let gateway: HttpApp;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'agora-web-'));
    mkdirSync(join(root, 'assets'));
    mkdirSync(join(root, '.vite'));
    writeFileSync(join(root, 'index.html'), INDEX);
    writeFileSync(join(root, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(join(root, 'assets', 'index-abc123.js'), SCRIPT);
    writeFileSync(join(root, '.vite', 'manifest.json'), '{}');
    gateway = await createGateway({
      transport: new InProcessTransport(),
      tokens: new TokenService('serving-test-secret-serving-test-secret-0123'),
      logger: createLogger('gateway', 'silent'),
      metrics: new Metrics(false),
      config: GATEWAY_DEFAULTS,
      readiness: () => [],
      web: { root },
    });
    await gateway.ready();
  });

  afterAll(async () => {
    await gateway?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('serves index.html at / and for client routes, never cached without revalidation', async () => {
    for (const url of ['/', '/products/0190-abc', '/admin/operations', '/orders/x?placed=1', '/index.html']) {
      const res = await gateway.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.body).toBe(INDEX);
    }
  });

  it('serves hashed assets for a year, gzipped when asked, and answers a matching ETag with 304', async () => {
    const plain = await gateway.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.body).toBe(SCRIPT);

    const gzipped = await gateway.inject({ method: 'GET', url: '/assets/index-abc123.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers.vary).toBe('accept-encoding');
    expect(gunzipSync(gzipped.rawPayload).toString()).toBe(SCRIPT);
    expect(gzipped.rawPayload.length).toBeLessThan(SCRIPT.length / 10);

    const etag = plain.headers.etag;
    expect(typeof etag).toBe('string');
    const again = await gateway.inject({ method: 'GET', url: '/assets/index-abc123.js', headers: { 'if-none-match': String(etag) } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');

    const head = await gateway.inject({ method: 'HEAD', url: '/favicon.svg' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-type']).toBe('image/svg+xml');
  });

  it('leaves API, health and metrics paths to their own answers, and 404s missing files', async () => {
    for (const url of ['/api/v1/nothing-here', '/api', '/health/nope', '/assets/missing-123.js', '/favicon.ico', '/.vite/manifest.json', '/../package.json']) {
      const res = await gateway.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toMatch(/^application\/problem\+json/);
      expect(res.json(), url).toMatchObject({ code: 'NOT_FOUND' });
    }
    expect((await gateway.inject({ method: 'GET', url: '/health/live' })).json()).toEqual({ status: 'ok' });
    expect((await gateway.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    expect((await gateway.inject({ method: 'POST', url: '/products/x' })).statusCode).toBe(404);
  });
});
