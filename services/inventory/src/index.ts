import { fileURLToPath } from 'node:url';
import { createHttpApp, type ServiceModule, type Storage } from '@agora/platform';
import { InventoryApp } from './app/inventory.js';
import { registerInventoryRoutes } from './http/routes.js';
import { StockStore } from './store/stock-store.js';

export const INVENTORY_MIGRATIONS = fileURLToPath(new URL('./store/migrations', import.meta.url));

export const inventoryModule: ServiceModule = {
  name: 'inventory',
  migrationsFolder: INVENTORY_MIGRATIONS,
  async create(deps) {
    const app = createHttpApp({ name: 'inventory', logger: deps.logger, metrics: deps.metrics });
    registerInventoryRoutes(app, new InventoryApp(new StockStore(deps.storage)));
    return {
      name: 'inventory',
      app,
      readiness: [{ name: 'database', check: () => deps.storage.ping() }],
      start: async () => undefined,
      stop: () => app.close(),
    };
  },
};

/** Demo stock for seeded SKUs: a deterministic spread, some SKUs scarce, a few sold out. */
export async function seedDemoStock(storage: Storage, skus: readonly string[]): Promise<number> {
  const levels = skus.map((sku, i) => ({ sku, onHand: i % 17 === 0 ? 0 : i % 5 === 0 ? 3 + (i % 7) : 20 + ((i * 37) % 180) }));
  return new StockStore(storage).seedMissing(levels);
}

export { StockStore } from './store/stock-store.js';
export type { StockLevel } from './domain/stock.js';
