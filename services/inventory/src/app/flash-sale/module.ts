import { InMemoryLeaseStore, LeaseLockManager, connectRedisLocks, type ServiceDeps, type Subscription } from '@agora/platform';
import { FlashSaleStore } from '../../store/flash-sale-store.js';
import { FlashSaleAdmin } from './admin.js';
import type { SaleCounter } from './counter.js';
import { FlashSales } from './flash-sales.js';
import { InMemorySaleCounter } from './memory-counter.js';
import { RedisSaleCounter } from './redis-counter.js';
import { FlashSaleReconciler, RECONCILER_DEFAULTS } from './reconciler.js';
import { subscribeFlashSaleConsumers } from './ticket-consumer.js';

/**
 * Environment of flash sales (validated at start; a bad value names its variable):
 * - REDIS_URL: the counter and the reconciler's lock live in Redis; unset = in memory (one process);
 * - AGORA_FLASH_SALE_PREFIX: prefix of their Redis keys (default `agora`; tests use one each);
 * - AGORA_FLASH_SALE_RECONCILE_MS: how often an instance tries to reconcile.
 */
export const FLASH_SALE_ENV = {
  prefix: 'AGORA_FLASH_SALE_PREFIX',
  reconcileMs: 'AGORA_FLASH_SALE_RECONCILE_MS',
} as const;

const PREFIX_PATTERN = /^[A-Za-z0-9_:.-]{1,100}$/;

export interface FlashSaleModule {
  sales: FlashSales;
  admin: FlashSaleAdmin;
  counter: SaleCounter;
  reconciler: FlashSaleReconciler;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Builds the flash-sale machinery of one inventory instance from its dependencies. */
export async function createFlashSaleModule(deps: ServiceDeps): Promise<FlashSaleModule> {
  const redisUrl = deps.env.url('REDIS_URL', ['redis:', 'rediss:']);
  const prefix = deps.env.string(FLASH_SALE_ENV.prefix, 'agora');
  if (!PREFIX_PATTERN.test(prefix)) throw new Error(`${FLASH_SALE_ENV.prefix} must match ${PREFIX_PATTERN.source}, got "${prefix}"`);
  const reconcileMs = deps.env.int(FLASH_SALE_ENV.reconcileMs, RECONCILER_DEFAULTS.intervalMs, { min: 50, max: 3_600_000 });
  const counter: SaleCounter = redisUrl ? await RedisSaleCounter.connect(redisUrl, prefix) : new InMemorySaleCounter();
  const locks = redisUrl
    ? await connectRedisLocks({ url: redisUrl, logger: deps.logger, keyPrefix: `${prefix}:locks`, name: 'agora-flash-sale-locks' })
    : new LeaseLockManager(new InMemoryLeaseStore(), { logger: deps.logger });
  const store = new FlashSaleStore(deps.storage);
  const purchases = deps.metrics.counter('agora_flash_sale_purchases_total', 'Flash-sale purchase answers by outcome', ['outcome']);
  const tickets = deps.metrics.counter('agora_flash_sale_tickets_total', 'Flash-sale tickets decided in the database, by outcome', ['outcome']);
  const drift = deps.metrics.gauge('agora_flash_sale_drift_units', 'Counter units left minus what the database implies, per sale, at the last reconciliation', ['sale']);
  const sales = new FlashSales({ store, counter, bus: deps.bus, clock: deps.clock, logger: deps.logger, onPurchase: (outcome) => purchases.inc({ outcome }) });
  const reconciler = new FlashSaleReconciler({
    store,
    counter,
    sales,
    locks,
    bus: deps.bus,
    clock: deps.clock,
    logger: deps.logger,
    onDrift: (sale, units) => drift.set({ sale }, units),
  });
  const admin = new FlashSaleAdmin(store, counter, sales, reconciler);
  let subscriptions: Subscription[] = [];
  return {
    sales,
    admin,
    counter,
    reconciler,
    async start() {
      subscriptions = await subscribeFlashSaleConsumers({ bus: deps.bus, store, counter, sales, clock: deps.clock, logger: deps.logger, onTicket: (outcome) => tickets.inc({ outcome }) });
      reconciler.start(reconcileMs);
    },
    async stop() {
      await Promise.all(subscriptions.map((s) => s.stop()));
      await reconciler.stop();
      await locks.close();
      await counter.close();
    },
  };
}
