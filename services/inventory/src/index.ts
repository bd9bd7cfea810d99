import { fileURLToPath } from 'node:url';
import { OutboxRelay, createHttpApp, type ServiceModule, type Storage } from '@agora/platform';
import { INVENTORY_SCHEMA } from './store/stock-facts.js';
import { InventoryApp } from './app/inventory.js';
import { ReservationSweeper } from './app/reservation-sweeper.js';
import { ReservationsApp, type ReservationEvent } from './app/reservations.js';
import { registerReservationRoutes } from './http/reservation-routes.js';
import { createFlashSaleModule } from './app/flash-sale/module.js';
import { registerFlashSaleRoutes } from './http/flash-sale-routes.js';
import { registerInventoryRoutes } from './http/routes.js';
import { InProcessInventoryPort } from './port.js';
import { ReservationStore, type InventoryTotal } from './store/reservation-store.js';

/** Batch sizes worth telling apart, up to the batcher's own maximum (64). */
const STOCK_BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64] as const;
import { StockStore } from './store/stock-store.js';

export const INVENTORY_MIGRATIONS = fileURLToPath(new URL('./store/migrations', import.meta.url));

/** Overdue reservations are counted up to this many (the scrape's query stays an index range read). */
export const OVERDUE_RESERVATIONS_CAP = 10_000;

/** How often each instance looks for expired reservations (`INVENTORY_SWEEP_INTERVAL_MS`). */
export const DEFAULT_SWEEP_INTERVAL_MS = 5_000;

export const inventoryModule: ServiceModule = {
  name: 'inventory',
  migrationsFolder: INVENTORY_MIGRATIONS,
  async create(deps) {
    const sweepIntervalMs = deps.env.int('INVENTORY_SWEEP_INTERVAL_MS', DEFAULT_SWEEP_INTERVAL_MS, { min: 100, max: 60 * 60 * 1000 });
    const reservationEvents = deps.metrics.counter('agora_inventory_reservations_total', 'Reservation outcomes and transitions', ['event']);
    const count = (event: ReservationEvent, n: number): void => reservationEvents.inc({ event }, n);

    const app = createHttpApp({ name: 'inventory', logger: deps.logger, metrics: deps.metrics });
    const levels = new InventoryApp(new StockStore(deps.storage));
    registerInventoryRoutes(app, levels);
    // Operations per stock batch (reserves and commits sharing one transaction), by how the batch ended.
    const batchSizes = deps.metrics.histogram('agora_inventory_stock_batch_operations', 'Stock operations per batch transaction', ['outcome'], STOCK_BATCH_BUCKETS);
    const store = new ReservationStore(deps.storage, { onBatch: (size, outcome) => batchSizes.observe({ outcome }, size) });
    const stockUnits = deps.metrics.counter('agora_inventory_stock_units_total', 'Units of stock moved by reservations, by movement (reserve, commit, release, restock)', ['movement']);
    const reservations = new ReservationsApp(store, deps.clock, count, (movement, units) => stockUnits.inc({ movement }, units));
    registerReservationRoutes(app, reservations);
    // The stock-leak alert's input: HELD reservations the sweeper should have released, read at scrape time.
    const overdue = () => store.overdue(deps.clock.now(), OVERDUE_RESERVATIONS_CAP);
    deps.metrics.scraped('agora_inventory_overdue_reservations', `HELD reservations past their expiry, not yet released (counted up to ${OVERDUE_RESERVATIONS_CAP})`, [], async () => [{ labels: {}, value: (await overdue()).count }], 'max');
    deps.metrics.scraped('agora_inventory_overdue_reservation_age_seconds', 'How far past its expiry the oldest HELD reservation is (0: none overdue)', [], async () => [{ labels: {}, value: (await overdue()).oldestSeconds }], 'max');
    const sweeper = new ReservationSweeper({ storage: deps.storage, clock: deps.clock, logger: deps.logger, onExpired: (n) => count('expired', n) });
    // StockChanged facts are committed with each stock move and published from the outbox.
    const relay = new OutboxRelay({ storage: deps.storage, schema: INVENTORY_SCHEMA, bus: deps.bus, logger: deps.logger, metrics: deps.metrics });
    // Flash sales: their units set aside from stock here, sold through the counter (docs/flash-sales.md).
    const flashSales = await createFlashSaleModule(deps);
    registerFlashSaleRoutes(app, flashSales.sales, flashSales.admin);
    return {
      name: 'inventory',
      app,
      readiness: [{ name: 'database', check: () => deps.storage.ping() }],
      ports: { inventory: new InProcessInventoryPort(reservations, levels, flashSales.sales, deps.logger) },
      async start() {
        sweeper.start(sweepIntervalMs);
        relay.start();
        await flashSales.start();
      },
      async stop() {
        await flashSales.stop();
        await sweeper.stop();
        await relay.stop();
        await app.close();
      },
    };
  },
};

/** Demo stock for seeded SKUs: a deterministic spread, some SKUs scarce, a few sold out. */
export async function seedDemoStock(storage: Storage, skus: readonly string[]): Promise<number> {
  const levels = skus.map((sku, i) => ({ sku, onHand: i % 17 === 0 ? 0 : i % 5 === 0 ? 3 + (i % 7) : 20 + ((i * 37) % 180) }));
  return new StockStore(storage).seedMissing(levels);
}

/**
 * For invariant checkers (chaos tests, `agora` operations): per SKU, on hand, reserved and the
 * units HELD reservations account for, from one snapshot. Sorted by SKU.
 */
export function inventoryTotals(storage: Storage): Promise<InventoryTotal[]> {
  return new ReservationStore(storage).totals();
}

/**
 * The broken invariants among `totals`, as sentences (empty when all hold): nothing negative,
 * reserved within on hand, and reserved equal to the sum of HELD reservation lines.
 */
export function inventoryViolations(totals: readonly InventoryTotal[]): string[] {
  const problems: string[] = [];
  for (const t of totals) {
    if (t.onHand < 0) problems.push(`${t.sku}: on hand ${t.onHand} < 0`);
    if (t.reserved < 0) problems.push(`${t.sku}: reserved ${t.reserved} < 0`);
    if (t.reserved > t.onHand) problems.push(`${t.sku}: reserved ${t.reserved} > on hand ${t.onHand}`);
    if (t.reserved !== t.heldReservedSum) problems.push(`${t.sku}: reserved ${t.reserved} != ${t.heldReservedSum} held by reservations`);
  }
  return problems;
}

export { StockStore } from './store/stock-store.js';
export { InMemorySaleCounter } from './app/flash-sale/memory-counter.js';
export { RedisSaleCounter } from './app/flash-sale/redis-counter.js';
export type { SaleCounter, SaleTerms } from './app/flash-sale/counter.js';
export { InProcessInventoryPort } from './port.js';
export type { InventoryTotal } from './store/reservation-store.js';
export { ReservationSweeper } from './app/reservation-sweeper.js';
// The reservation use cases the deterministic simulation drives (apps/agora/src/sim) over a model of their store.
export { ReservationsApp } from './app/reservations.js';
export type { ReserveOutcome, TransitionOutcome } from './store/reservation-rows.js';
