import { LIMITS, validationError } from '@agora/kernel';
import { inventory } from '@agora/contracts';
import { requireAdmin, type HttpApp } from '@agora/platform';
import type { InventoryApp } from '../app/inventory.js';

const MAX_BATCH_SKUS = LIMITS.pageSizeMax * LIMITS.variantsPerProduct;

export function registerInventoryRoutes(app: HttpApp, inventoryApp: InventoryApp): void {
  app.get('/inventory', { schema: { querystring: inventory.AvailabilityQuery, response: { 200: inventory.AvailabilityList } } }, async (request) => {
    const skus = [...new Set(request.query.skus.split(',').map((s) => s.trim()).filter((s) => s.length > 0))];
    if (skus.length > MAX_BATCH_SKUS) throw validationError([{ path: 'skus', message: `at most ${MAX_BATCH_SKUS} SKUs per call` }]);
    return { items: await inventoryApp.availability(skus) };
  });

  app.get('/inventory/:sku', { schema: { params: inventory.SkuParams, response: { 200: inventory.Availability } } }, async (request) => {
    const level = await inventoryApp.level(request.params.sku);
    return { sku: level.sku, available: level.available };
  });

  app.get('/inventory/:sku/level', { schema: { params: inventory.SkuParams, response: { 200: inventory.StockLevel } } }, async (request) => {
    requireAdmin(request);
    return inventoryApp.level(request.params.sku);
  });

  // The admin overview's stock alerts (the gateway composes them with the order figures).
  app.get('/admin/low-stock', { schema: { querystring: inventory.LowStockQuery, response: { 200: inventory.LowStock } } }, async (request) => {
    requireAdmin(request);
    return inventoryApp.lowStock(request.query.atMost ?? inventory.LOW_STOCK_THRESHOLD, request.query.limit ?? LIMITS.pageSizeDefault);
  });

  app.put(
    '/inventory/:sku',
    { schema: { params: inventory.SkuParams, body: inventory.SetStockBody, response: { 200: inventory.StockLevel } } },
    async (request) => {
      requireAdmin(request);
      return inventoryApp.setOnHand(request.params.sku, request.body.onHand);
    },
  );
}
