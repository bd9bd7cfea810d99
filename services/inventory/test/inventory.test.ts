import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvReader, systemClock } from '@agora/kernel';
import { InProcessTransport, Metrics, TokenService, createLogger, type Caller, type HttpApp, type RunningService, InMemoryEventBus } from '@agora/platform';
import { guardForTests, injectAs, testBackends, type AssertedInjectOptions } from '@agora/platform/testing';
import { inventoryModule, seedDemoStock } from '../src/index.js';

const ADMIN: Caller = { userId: '01900000-0000-7000-8000-000000000001', role: 'admin' };
const CUSTOMER: Caller = { userId: '01900000-0000-7000-8000-000000000002', role: 'customer' };

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`inventory on ${backend.kind}`, () => {
    let service: RunningService;
    let app: HttpApp;
    /** A request as the gateway or the order service sends it: with a caller assertion (for `caller`, if any). */
    const send = (options: AssertedInjectOptions) => injectAs(app, 'inventory', options);
    let release: () => Promise<void>;

    beforeAll(async () => {
      const opened = await backend.open();
      release = opened.release;
      await opened.storage.migrate('inventory', inventoryModule.migrationsFolder ?? '');
      service = await inventoryModule.create({
        storage: opened.storage,
        logger: createLogger('inventory', 'silent'),
        metrics: new Metrics(false),
        clock: systemClock,
        env: new EnvReader({}),
        transport: new InProcessTransport(),
        tokens: new TokenService('x'.repeat(32)),
        bus: new InMemoryEventBus({ logger: createLogger('bus', 'silent') }),
      });
      app = service.app;
      guardForTests(app, 'inventory');
      await seedDemoStock(opened.storage, ['SEED-1', 'SEED-2']);
    });
    afterAll(async () => {
      await service.stop();
      await release();
    });

    it('an admin sets stock and anyone reads availability', async () => {
      const put = await send({ method: 'PUT', url: '/inventory/SKU-A', caller: ADMIN, payload: { onHand: 12 } });
      expect(put.statusCode).toBe(200);
      expect(put.json()).toEqual({ sku: 'SKU-A', onHand: 12, reserved: 0, available: 12 });
      const get = await send({ method: 'GET', url: '/inventory/SKU-A' });
      expect(get.json()).toEqual({ sku: 'SKU-A', available: 12 });
    });

    it('refuses customers, negative and fractional stock, naming the field', async () => {
      expect((await send({ method: 'PUT', url: '/inventory/SKU-A', caller: CUSTOMER, payload: { onHand: 1 } })).statusCode).toBe(403);
      expect((await send({ method: 'PUT', url: '/inventory/SKU-A', payload: { onHand: 1 } })).statusCode).toBe(401);
      for (const onHand of [-1, 1.5, '3', null]) {
        const res = await send({ method: 'PUT', url: '/inventory/SKU-A', caller: ADMIN, payload: { onHand } });
        expect(res.statusCode).toBe(400);
        expect(res.json().errors[0].path).toBe('onHand');
      }
    });

    it('answers 404 for an unknown SKU and 0 in a batch', async () => {
      expect((await send({ method: 'GET', url: '/inventory/NOPE' })).statusCode).toBe(404);
      const batch = await send({ method: 'GET', url: '/inventory?skus=SKU-A,NOPE,SEED-1' });
      const items = batch.json().items as { sku: string; available: number }[];
      expect(items.find((i) => i.sku === 'NOPE')?.available).toBe(0);
      expect(items.find((i) => i.sku === 'SKU-A')?.available).toBe(12);
      expect(items.find((i) => i.sku === 'SEED-1')).toBeDefined();
    });

    it('keeps the last write of concurrent admin updates consistent', async () => {
      const values = Array.from({ length: 20 }, (_, i) => i + 1);
      const results = await Promise.all(values.map((onHand) => send({ method: 'PUT', url: '/inventory/SKU-C', caller: ADMIN, payload: { onHand } })));
      expect(results.every((r) => r.statusCode === 200)).toBe(true);
      const level = (await send({ method: 'GET', url: '/inventory/SKU-C/level', caller: ADMIN })).json();
      expect(values).toContain(level.onHand);
      expect(level.available).toBe(level.onHand - level.reserved);
    });
  });
}
