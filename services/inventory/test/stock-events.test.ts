import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvReader, systemClock } from '@agora/kernel';
import type { EventEnvelope, StockChanged } from '@agora/contracts/events';
import { InMemoryEventBus, InProcessTransport, Metrics, TokenService, createLogger, type Caller, type HttpApp, type RunningService } from '@agora/platform';
import { guardForTests, injectAs, testBackends, type AssertedInjectOptions } from '@agora/platform/testing';
import { inventoryModule } from '../src/index.js';

const ADMIN: Caller = { userId: '01900000-0000-7000-8000-000000000001', role: 'admin' };

async function until<T>(read: () => T | undefined, deadlineMs = 10_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error('condition not met before the deadline');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every stock move publishes `inventory.stock-changed` through the outbox, with the new levels. */
for (const backend of testBackends) {
  describe.runIf(await backend.available())(`StockChanged facts on ${backend.kind}`, () => {
    let service: RunningService;
    let app: HttpApp;
    /** A request as the gateway or the order service sends it: with a caller assertion (for `caller`, if any). */
    const send = (options: AssertedInjectOptions) => injectAs(app, 'inventory', options);
    let release: () => Promise<void>;
    const bus = new InMemoryEventBus({ logger: createLogger('bus', 'silent') });
    const seen: EventEnvelope[] = [];

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
        bus,
      });
      app = service.app;
      guardForTests(app, 'inventory');
      await service.start();
      await bus.subscribe({ durable: 'test-stock', types: ['inventory.stock-changed'], handler: async (event) => void seen.push(event) });
    });
    afterAll(async () => {
      await service.stop();
      await bus.close();
      await release();
    });

    const latest = (sku: string, reason: string): StockChanged | undefined =>
      seen.map((e) => e.payload as StockChanged).find((p) => p.sku === sku && p.reason === reason);

    it('publishes the level after an operator sets stock, a reservation and its commit', async () => {
      expect((await send({ method: 'PUT', url: '/inventory/EVT-1', caller: ADMIN, payload: { onHand: 10 } })).statusCode).toBe(200);
      expect(await until(() => latest('EVT-1', 'set by an operator'))).toMatchObject({ onHand: 10, reserved: 0, available: 10 });

      const reservationId = '01900000-0000-7000-8000-0000000000aa';
      const reserved = await send({ method: 'POST', url: '/reservations', payload: { reservationId, lines: [{ sku: 'EVT-1', quantity: 3 }], ttlSeconds: 60 } });
      expect(reserved.statusCode).toBe(201);
      expect(await until(() => latest('EVT-1', 'reserved'))).toMatchObject({ onHand: 10, reserved: 3, available: 7 });

      expect((await send({ method: 'POST', url: `/reservations/${reservationId}/commit` })).statusCode).toBe(200);
      expect(await until(() => latest('EVT-1', 'committed'))).toMatchObject({ onHand: 7, reserved: 0, available: 7 });
    });

    it('publishes nothing for a reservation refused for short stock', async () => {
      const before = seen.length;
      const refused = await send({
        method: 'POST',
        url: '/reservations',
        payload: { reservationId: '01900000-0000-7000-8000-0000000000bb', lines: [{ sku: 'EVT-1', quantity: 50 }], ttlSeconds: 60 },
      });
      expect(refused.statusCode).toBe(409);
      // A later, accepted change proves the relay ran after the refusal: nothing in between.
      expect((await send({ method: 'PUT', url: '/inventory/EVT-2', caller: ADMIN, payload: { onHand: 1 } })).statusCode).toBe(200);
      await until(() => latest('EVT-2', 'set by an operator'));
      expect(seen.slice(before).map((e) => (e.payload as StockChanged).sku)).toEqual(['EVT-2']);
    });
  });
}
