import { fileURLToPath } from 'node:url';
import { EVENT_TYPES, type StockChanged } from '@agora/contracts/events';
import { HttpInventoryPort, TIERED_CACHE_DEFAULTS, TTL_JITTER_LIMITS, createHttpApp, type RunningService, type ServiceDeps, type ServiceModule, type Subscription } from '@agora/platform';
import { CatalogService } from './app/catalog-service.js';
import { StorefrontReads } from './app/storefront-reads.js';
import { ProductImages } from './app/product-images.js';
import { catalogCacheConfig, openCatalogCaches } from './cache-config.js';
import { InventoryLevels } from './inventory-levels.js';
import { registerCatalogRoutes } from './http/routes.js';
import { CatalogStore } from './store/catalog-store.js';
import { InProcessCatalogPort } from './port.js';

export { CatalogService } from './app/catalog-service.js';
export { CatalogStore, listAllSkus } from './store/catalog-store.js';
export { seedDemoCatalog, DEFAULT_DEMO_PRODUCTS } from './seed.js';

export const CATALOG_SERVICE = 'catalog';

/**
 * The consumer group that turns stock facts into cache invalidations: one catalog instance handles
 * each fact and broadcasts the invalidation to every instance (docs/caching.md).
 */
export const CATALOG_CACHE_DURABLE = 'catalog-cache';

/**
 * A stock fact older than the longest an entry can live (L2 TTL at its largest jitter) concerns no
 * cached entry: whatever was cached before it has expired. A new consumer group starts at the
 * oldest fact the stream keeps (days), so this skips the replay's database lookups.
 */
const STOCK_FACT_RELEVANCE_MS = TIERED_CACHE_DEFAULTS.l2TtlMs * (1 + TTL_JITTER_LIMITS.ratioMax);

/** A catalog instance's parts: what the runner serves, and the use cases (tests write through them). */
export interface CatalogInstance {
  running: RunningService;
  service: CatalogService;
}

/** Builds one catalog instance: routes, storefront cache (docs/caching.md) and the stock-fact consumer that invalidates it. */
export async function createCatalog(deps: ServiceDeps): Promise<CatalogInstance> {
  const app = createHttpApp({ name: CATALOG_SERVICE, logger: deps.logger, metrics: deps.metrics });
  const store = new CatalogStore(deps.storage);
  const caches = openCatalogCaches(catalogCacheConfig(deps.env), deps.logger.child({ component: 'cache' }), deps.metrics);
  // Writes reach the storefront through this hook once they committed (or failed).
  const service: CatalogService = new CatalogService(store, deps.clock, {}, (ids): Promise<void> => storefront.catalogChanged(ids));
  const storefront: StorefrontReads = new StorefrontReads(store, service, new InventoryLevels(deps.ports?.inventory ?? new HttpInventoryPort(deps.transport)), caches, deps.logger);
  const images = new ProductImages(store, deps.clock, (ids) => storefront.catalogChanged(ids));
  registerCatalogRoutes(app, service, storefront, images);
  let stockFacts: Subscription | undefined;
  const running: RunningService = {
    name: CATALOG_SERVICE,
    app,
    readiness: [{ name: 'database', check: () => deps.storage.ping() }],
    ports: { catalog: new InProcessCatalogPort(service, storefront, deps.logger) },
    async start() {
      if (caches === undefined) return;
      await caches.start();
      stockFacts = await deps.bus.subscribe({
        durable: CATALOG_CACHE_DURABLE,
        types: [EVENT_TYPES.StockChanged],
        handler: async (event) => {
          if (deps.clock.now().getTime() - Date.parse(event.occurredAt) > STOCK_FACT_RELEVANCE_MS) return;
          await storefront.stockChanged([(event.payload as StockChanged).sku]);
        },
      });
    },
    async stop() {
      await stockFacts?.stop();
      await caches?.close();
    },
  };
  return { running, service };
}

export const catalogModule: ServiceModule = {
  name: CATALOG_SERVICE,
  migrationsFolder: fileURLToPath(new URL('./store/migrations', import.meta.url)),
  async create(deps: ServiceDeps): Promise<RunningService> {
    return (await createCatalog(deps)).running;
  },
};
