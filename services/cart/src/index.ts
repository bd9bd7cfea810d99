import { fileURLToPath } from 'node:url';
import { createHttpApp, fenceWaitReporter, openServiceShards, ServiceClient, type RunningService, type ServiceDeps, type ServiceModule, type ShardRouter } from '@agora/platform';
import { CartService } from './app/cart-service.js';
import { CatalogClient, CatalogPortLookup } from './app/catalog.js';
import { registerCartRoutes } from './http/routes.js';
import { CartStore } from './store/cart-store.js';
import { InProcessCartPort } from './port.js';

export const CART_SERVICE = 'cart';
export const CART_MIGRATIONS = fileURLToPath(new URL('./store/migrations', import.meta.url));

/** How long an applied checkout's order id is remembered (a retry comes within minutes). */
export const CHECKED_OUT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;

/**
 * The cart service over any shard router: every shard's storage must have the cart migrations
 * applied. `cartModule` uses one shard, `deps.storage`; `deps.storage` is not used otherwise.
 */
export async function createCartService(deps: ServiceDeps, router: ShardRouter): Promise<RunningService> {
  const store = new CartStore(router, fenceWaitReporter(deps.metrics, deps.logger, CART_SERVICE));
  // In one process the catalog's own port; in the cluster, HTTP through the service client.
  const catalog = deps.ports?.catalog ? new CatalogPortLookup(deps.ports.catalog) : new CatalogClient(new ServiceClient('catalog', deps.transport));
  const carts = new CartService(store, catalog, deps.clock);
  const app = createHttpApp({ name: CART_SERVICE, logger: deps.logger, metrics: deps.metrics });
  registerCartRoutes(app, carts);

  let pruneTimer: NodeJS.Timeout | undefined;
  const prune = (): void => {
    store.pruneCheckedOut(new Date(deps.clock.now().getTime() - CHECKED_OUT_RETENTION_MS)).then(
      (n) => deps.logger.debug({ pruned: n }, 'old checked-out order ids forgotten'),
      (err: unknown) => deps.logger.warn({ err }, 'pruning checked-out order ids failed; retrying next round'),
    );
  };

  const shards = router.all();
  return {
    name: CART_SERVICE,
    app,
    readiness: shards.map((shard) => ({ name: shards.length === 1 ? 'database' : `database:${shard.id}`, check: () => shard.storage.ping() })),
    ports: { cart: new InProcessCartPort(carts, deps.logger) },
    async start() {
      // Any instance may prune: the delete is idempotent, so no leader is needed.
      pruneTimer ??= setInterval(prune, PRUNE_INTERVAL_MS);
      pruneTimer.unref();
    },
    async stop() {
      if (pruneTimer) clearInterval(pruneTimer);
      pruneTimer = undefined;
      await app.close();
    },
  };
}

export const cartModule: ServiceModule = {
  name: CART_SERVICE,
  migrationsFolder: CART_MIGRATIONS,
  // Carts live on the shard the stored map gives their shopper (CART_SHARDS seeds it; docs/sharding.md).
  async create(deps) {
    const router = await openServiceShards(deps, CART_SERVICE, CART_MIGRATIONS);
    const service = await createCartService(deps, router);
    return {
      ...service,
      async stop() {
        await service.stop();
        await router.close();
      },
    };
  },
};

export { CartStore } from './store/cart-store.js';
export { CART_SHARDED_DATA } from './store/shard-data.js';
