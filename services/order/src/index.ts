import { fileURLToPath } from 'node:url';
import { EVENT_TYPES, type PaymentSettled } from '@agora/contracts/events';
import { OutboxRelay, SingleShardRouter, createHttpApp, type ServiceModule } from '@agora/platform';
import { Collaborators } from './app/clients.js';
import { Orders } from './app/orders.js';
import { registerOrderRoutes } from './http/routes.js';
import { ORDERS_SCHEMA } from './store/order-store.js';

export const ORDER_MIGRATIONS = fileURLToPath(new URL('./store/migrations', import.meta.url));

export const ORDER_DEFAULTS = {
  sagaRecoveryIntervalMs: 5_000,
  idempotencyPruneIntervalMs: 60 * 60 * 1000,
} as const;

export const orderModule: ServiceModule = {
  name: 'order',
  migrationsFolder: ORDER_MIGRATIONS,
  async create(deps) {
    const app = createHttpApp({ name: 'order', logger: deps.logger, metrics: deps.metrics });
    const router = new SingleShardRouter(deps.storage);
    const instance = `order-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const orders = new Orders(router, new Collaborators(deps.transport), deps.clock, deps.logger, instance);
    registerOrderRoutes(app, orders);
    const relays = router.all().map((shard) => new OutboxRelay({ storage: shard.storage, schema: ORDERS_SCHEMA, bus: deps.bus, logger: deps.logger, metrics: deps.metrics }));
    let pruneTimer: NodeJS.Timeout | undefined;
    let subscription: { stop(): Promise<void> } | undefined;
    return {
      name: 'order',
      app,
      readiness: [{ name: 'database', check: () => deps.storage.ping() }],
      async start() {
        subscription = await deps.bus.subscribe({
          durable: 'order-payment-settled',
          types: [EVENT_TYPES.PaymentSettled],
          handler: async (event) => {
            const settled = event.payload as PaymentSettled;
            await orders.paymentSettled(settled.orderId, {
              kind: 'settled',
              paymentId: settled.paymentId,
              status: settled.status,
              ...(settled.reason ? { reason: settled.reason } : {}),
            });
          },
        });
        for (const relay of relays) relay.start();
        await orders.startBackground(deps.env.int('AGORA_SAGA_RECOVERY_INTERVAL_MS', ORDER_DEFAULTS.sagaRecoveryIntervalMs, { min: 100, max: 3_600_000 }));
        pruneTimer = setInterval(() => {
          orders.pruneIdempotencyKeys().catch((err: unknown) => deps.logger.warn({ err }, 'pruning idempotency keys failed'));
        }, ORDER_DEFAULTS.idempotencyPruneIntervalMs);
        pruneTimer.unref();
      },
      async stop() {
        if (pruneTimer) clearInterval(pruneTimer);
        await subscription?.stop();
        await orders.stopBackground();
        await Promise.all(relays.map((r) => r.stop()));
        await app.close();
      },
    };
  },
};

export { Orders } from './app/orders.js';
export { OrderStore, ORDERS_SCHEMA } from './store/order-store.js';
