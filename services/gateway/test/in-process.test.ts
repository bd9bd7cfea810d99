import { afterEach, describe, expect, it } from 'vitest';
import { EnvReader } from '@agora/kernel';
import { InProcessTransport, Metrics, TokenService, callerOf, createHttpApp, createLogger, requireAdmin, type HttpApp } from '@agora/platform';
import { assertingForTests, callerHeaders, guardForTests } from '@agora/platform/testing';
import { createGateway, loadGatewayConfig } from '../src/index.js';
import { ADMIN_ID, SECRET, bearer } from './fakes.js';

/** Stock writes the echo service accepted. */
let writes = 0;

/** A stand-in service built like the real ones (createHttpApp, guarded), reached through the real in-process transport. */
function echoService(): HttpApp {
  const logger = createLogger('echo', 'silent');
  const app = createHttpApp({ name: 'inventory', logger });
  guardForTests(app, 'inventory');
  app.put('/inventory/:sku', async (request) => {
    const caller = requireAdmin(request);
    writes += 1;
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

/** The gateway in front of the echo service, its calls asserted as `agora start` asserts them. */
async function gatewayInFront(): Promise<{ gateway: HttpApp; tokens: TokenService }> {
  const transport = new InProcessTransport();
  const service = echoService();
  transport.register('inventory', service);
  const tokens = new TokenService(SECRET);
  const gateway = await createGateway({
    transport: assertingForTests(transport, 'gateway'),
    tokens,
    logger: createLogger('gateway', 'silent'),
    metrics: new Metrics(false),
    config: loadGatewayConfig(new EnvReader({})),
    readiness: () => [],
  });
  apps = [gateway, service];
  return { gateway, tokens };
}

describe('over the platform InProcessTransport', () => {
  it('carries the verified caller and the body to a createHttpApp service, and relays its answers', async () => {
    const { gateway, tokens } = await gatewayInFront();
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

  it('grants nothing for internal headers sent from outside: identity headers, nor a valid assertion', async () => {
    const { gateway, tokens } = await gatewayInFront();
    const customer = await tokens.sign({ sub: ADMIN_ID, role: 'customer', email: 'ann@example.com' });
    // An assertion that would make its bearer an admin at the inventory service, had the gateway passed it on.
    const stolen = await callerHeaders('inventory', { userId: ADMIN_ID, role: 'admin' });
    const before = writes;
    const spoofs = [{ 'x-agora-user-id': ADMIN_ID, 'x-agora-user-role': 'admin' }, stolen, { ...stolen, ...bearer(customer) }, { 'x-agora-user-role': 'admin', ...bearer(customer) }];
    for (const headers of spoofs) {
      const res = await gateway.inject({ method: 'PUT', url: '/api/v1/admin/inventory/TEE-M', headers, payload: { onHand: 7 } });
      expect([401, 403], JSON.stringify(headers)).toContain(res.statusCode);
    }
    expect(writes).toBe(before);
  });
});
