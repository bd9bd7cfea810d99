import { fileURLToPath } from 'node:url';
import { EVENT_TYPES, type PaymentSettled } from '@agora/contracts/events';
import {
  OutboxRelay,
  SAGA_DEFAULTS,
  createHttpApp,
  fenceWaitReporter,
  openServiceShards,
  type SagaDefinition,
  type SagaLogEntry,
  type ServiceDeps,
  type ServiceModule,
} from '@agora/platform';
import { Collaborators } from './app/clients.js';
import { Orders } from './app/orders.js';
import { checkoutGate } from './app/admission.js';
import { registerOrderRoutes } from './http/routes.js';
import { InProcessOrderPort } from './port.js';
import { createFlashSaleOrders } from './app/flash-sale/module.js';
import { registerPayRoute } from './http/flash-sale-routes.js';
import { ORDERS_SCHEMA } from './store/order-store.js';
import { MonthPartitionMaintenance } from './store/partitions.js';

export const ORDER_MIGRATIONS = fileURLToPath(new URL('./store/migrations', import.meta.url));

export const ORDER_DEFAULTS = {
  sagaRecoveryIntervalMs: 5_000,
} as const;

/**
 * Environment of the order service (validated at start; a bad value names its variable):
 * - AGORA_SAGA_RECOVERY_INTERVAL_MS: how often sagas left by a crashed instance are looked for;
 * - AGORA_SAGA_LEASE_MS: how long an instance's claim on a saga lasts without renewal, i.e. how
 *   soon after a crash another instance (or the restarted one) may recover its sagas.
 */
export const ORDER_ENV = {
  recoveryInterval: 'AGORA_SAGA_RECOVERY_INTERVAL_MS',
  sagaLease: 'AGORA_SAGA_LEASE_MS',
} as const;

/** What the composition root may plug into the order service. */
export interface OrderModuleOptions {
  /**
   * Watches every entry the sagas write to their log, synchronously after each commit (the
   * composition root's TEST-ONLY crash injection: apps/agora/src/faults.ts). Called once at
   * create with the service's dependencies and its sagas' definitions; answers the observer, or
   * nothing to watch. What it throws (a configuration error) stops the service from starting.
   */
  sagaLogObserver?: (deps: ServiceDeps, sagas: readonly Pick<SagaDefinition<never>, 'name' | 'steps'>[]) => ((entry: SagaLogEntry) => void) | undefined;
}

/** The order service, with what the composition root plugs in. */
export function createOrderModule(options: OrderModuleOptions = {}): ServiceModule {
  return {
    name: 'order',
    migrationsFolder: ORDER_MIGRATIONS,
    create: (deps) => createOrderService(deps, options),
  };
}

async function createOrderService(deps: ServiceDeps, options: OrderModuleOptions): ReturnType<ServiceModule['create']> {
  const app = createHttpApp({ name: 'order', logger: deps.logger, metrics: deps.metrics });
  // Orders live on the shard the stored map gives their shopper (ORDER_SHARDS seeds it; docs/sharding.md).
  const router = await openServiceShards(deps, 'order', ORDER_MIGRATIONS);
  const instance = `order-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const leaseMs = deps.env.int(ORDER_ENV.sagaLease, SAGA_DEFAULTS.leaseMs, { min: 100, max: 3_600_000 });
  const collaborators = new Collaborators(deps.transport, deps.ports);
  // The observer needs the sagas' definitions, which the shards' machinery makes: it is asked
  // for once they exist, before any saga runs (background work and routes start later).
  let observe: ((entry: SagaLogEntry) => void) | undefined;
  const orders = new Orders(router, collaborators, deps.clock, deps.logger, instance, {
    leaseMs,
    metrics: deps.metrics,
    onFenceWait: fenceWaitReporter(deps.metrics, deps.logger, 'order'),
    ...(options.sagaLogObserver ? { onLog: (entry: SagaLogEntry) => observe?.(entry) } : {}),
  });
  const firstShard = orders.all()[0];
  if (options.sagaLogObserver && firstShard) observe = options.sagaLogObserver(deps, [firstShard.checkout, firstShard.cancel]);
  const flashSales = createFlashSaleOrders(deps, orders, collaborators);
  const checkouts = new InProcessOrderPort(orders, checkoutGate(deps.env, deps.metrics), deps.logger);
  registerOrderRoutes(app, orders, checkouts, (caller, orderId) => flashSales.payments.refuseCancel(caller, orderId));
  registerPayRoute(app, flashSales.payments);
  // One outbox relay per shard, and one more for each shard a map change adds.
  const relays = new Map<string, OutboxRelay>();
  let relaying = false;
  const syncRelays = (): void => {
    for (const shard of router.all()) {
      if (relays.has(shard.id)) continue;
      const relay = new OutboxRelay({ storage: shard.storage, schema: ORDERS_SCHEMA, bus: deps.bus, logger: deps.logger, metrics: deps.metrics });
      relays.set(shard.id, relay);
      if (relaying) relay.start();
    }
  };
  syncRelays();
  const unsubscribe = router.onChange(syncRelays);
  // Each shard's month partitions are made ahead, at start and every few hours (docs/sharding.md).
  const partitions = new MonthPartitionMaintenance(router, deps.clock, deps.logger);
  let subscription: { stop(): Promise<void> } | undefined;
  return {
    name: 'order',
    app,
    ports: { order: checkouts },
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
      await partitions.start();
      relaying = true;
      for (const relay of relays.values()) relay.start();
      await flashSales.start();
      await orders.startBackground(deps.env.int(ORDER_ENV.recoveryInterval, ORDER_DEFAULTS.sagaRecoveryIntervalMs, { min: 100, max: 3_600_000 }));
    },
    async stop() {
      await subscription?.stop();
      await flashSales.stop();
      await orders.stopBackground();
      await partitions.stop();
      unsubscribe();
      await Promise.all([...relays.values()].map((r) => r.stop()));
      await app.close();
      await router.close();
    },
  };
}

export { OrderStore } from './store/order-store.js';
export { ORDER_SHARDED_DATA } from './store/shard-data.js';
// The checkout's parts the deterministic simulation drives (apps/agora/src/sim): the real saga and its steps.
export { checkoutSaga } from './app/checkout/saga.js';
export { Collaborators } from './app/clients.js';
export { FreshAnswers } from './app/checkout/fresh-answers.js';
export { CHECKOUT_LIMITS, type CheckoutDeps, type CheckoutInput } from './app/checkout/input.js';
export { priceSnapshot } from './domain/pricing.js';
export { canTransition as canOrderTransition, assertTransition as assertOrderTransition } from './domain/status.js';
