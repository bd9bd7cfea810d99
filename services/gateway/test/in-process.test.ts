import { afterEach, describe, expect, it } from 'vitest';
import { EnvReader } from '@agora/kernel';
import { InProcessTransport, Metrics, TokenService, callerOf, createHttpApp, createLogger, requireAdmin, type HttpApp } from '@agora/platform';
import { createGateway, loadGatewayConfig } from '../src/index.js';
import { ADMIN_ID, SECRET, bearer } from './fakes.js';

/** A stand-in service built like the real ones (createHttpApp), reached through the real in-process transport. */
function echoService(): HttpApp {
  const logger = createLogger('echo', 'silent');
  const app = createHttpApp({ name: 'inventory', logger });
  app.put('/inventory/:sku', async (request) => {
    const caller = requireAdmin(request);
    return { sku: (request.params as { sku: string }).sku, onHand: (request.body as { onHand: number }).onHand, reserved: 0, available: 0, by: caller.userId };
  });
  app.get('/inventory', async (request) => ({ items: [], caller: callerOf(request) ?? null, requestId: request.id }));
  return app;
}

let apps: HttpApp[] = [];
afterEach(async () => {
  await Promise.all(apps.map((a) => a.close()));
  apps = [];
});

describe('over the platform InProcessTransport', () => {
  it('carries the verified caller and the body to a createHttpApp service, and relays its answers', async () => {
    const transport = new InProcessTransport();
    const service = echoService();
    transport.register('inventory', service);
    const tokens = new TokenService(SECRET);
    const gateway = await createGateway({
      transport,
      tokens,
      logger: createLogger('gateway', 'silent'),
      metrics: new Metrics(false),
      config: loadGatewayConfig(new EnvReader({})),
      readiness: () => [],
    });
    apps = [gateway, service];
    const admin = await tokens.sign({ sub: ADMIN_ID, role: 'admin', email: 'root@example.com' });

    const res = await gateway.inject({ method: 'PUT', url: '/api/v1/admin/inventory/TEE-M', headers: { ...bearer(admin), 'x-agora-user-id': 'spoof' }, payload: { onHand: 7 } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ sku: 'TEE-M', onHand: 7, by: ADMIN_ID });

    const missing = await gateway.inject({ method: 'GET', url: '/api/v1/inventory/TEE-M' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.json()).toMatchObject({ code: 'NOT_FOUND' });

    const catalogMissing = await gateway.inject({ method: 'GET', url: '/api/v1/categories' });
    expect(catalogMissing.statusCode).toBe(503);
    expect(catalogMissing.json()).toMatchObject({ code: 'UNAVAILABLE', service: 'catalog' });
  });
});
