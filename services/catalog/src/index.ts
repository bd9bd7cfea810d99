import { fileURLToPath } from 'node:url';
import { createHttpApp, type RunningService, type ServiceDeps, type ServiceModule } from '@agora/platform';
import { CatalogService } from './app/catalog-service.js';
import { registerCatalogRoutes } from './http/routes.js';
import { CatalogStore } from './store/catalog-store.js';
import { InProcessCatalogPort } from './port.js';

export { CatalogService, toCatalogProduct } from './app/catalog-service.js';
export { InProcessCatalogPort } from './port.js';
export { CatalogStore, listAllSkus } from './store/catalog-store.js';
export { seedDemoCatalog, demoProducts, DEMO_CATEGORIES, DEFAULT_DEMO_PRODUCTS, type SeedOptions, type SeedResult } from './seed.js';
export { demoProduct, DEMO_CURRENCY, type DemoProduct, type DemoVariant } from './demo-data.js';

export const CATALOG_SERVICE = 'catalog';

export const catalogModule: ServiceModule = {
  name: CATALOG_SERVICE,
  migrationsFolder: fileURLToPath(new URL('./store/migrations', import.meta.url)),
  async create(deps: ServiceDeps): Promise<RunningService> {
    const app = createHttpApp({ name: CATALOG_SERVICE, logger: deps.logger, metrics: deps.metrics });
    const service = new CatalogService(new CatalogStore(deps.storage), deps.clock);
    registerCatalogRoutes(app, service);
    return {
      name: CATALOG_SERVICE,
      app,
      readiness: [{ name: 'database', check: () => deps.storage.ping() }],
      ports: { catalog: new InProcessCatalogPort(service, deps.logger) },
      async start() {
        // Nothing runs in the background: every request is answered from the database.
      },
      async stop() {
        // No background work to stop; the runner closes the app and the storage.
      },
    };
  },
};
