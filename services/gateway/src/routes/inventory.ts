import { inventory } from '@agora/contracts';
import { AppError } from '@agora/kernel';
import { BEARER_SECURITY, ok, problems, withExample } from '../schemas.js';
import { EXAMPLES } from '../examples.js';
import { TAGS } from '../openapi.js';
import { isSuccess, relay } from '../upstream.js';
import type { RouteArea } from './context.js';

function asAvailability(body: unknown): inventory.Availability {
  if (typeof body === 'object' && body !== null && 'sku' in body && 'available' in body) {
    const { sku, available } = body;
    if (typeof sku === 'string' && typeof available === 'number' && Number.isSafeInteger(available)) return { sku, available: Math.max(0, available) };
  }
  throw new AppError('UNAVAILABLE', 'The inventory service answered an unexpected availability body', { extras: { service: 'inventory' } });
}

/** Public stock lookup (only `available`: on hand and reserved are the operator's), the admin's stock level and stock setting. */
export const inventoryRoutes: RouteArea = (app, { upstream }) => {
  app.get(
    '/api/v1/inventory/:sku',
    {
      schema: {
        tags: [TAGS.inventory],
        operationId: 'getAvailability',
        summary: 'Units of a SKU that can be bought now',
        params: inventory.SkuParams,
        response: { 200: ok('Units available now', inventory.Availability, EXAMPLES.availability), ...problems('NOT_FOUND') },
      },
    },
    async (request, reply) => {
      const response = await upstream.call(request, 'inventory', { method: 'GET', path: `/inventory/${encodeURIComponent(request.params.sku)}`, idempotent: true });
      if (!isSuccess(response)) return relay(reply, 'inventory', response);
      return reply.code(response.status).send(asAvailability(response.body));
    },
  );

  // The admin's stock form starts from what is on hand; the public read gives only `available`.
  app.get(
    '/api/v1/admin/inventory/:sku',
    {
      schema: {
        tags: [TAGS.inventory, TAGS.admin],
        operationId: 'getStockLevel',
        summary: 'Units on hand, reserved and available of a SKU',
        security: BEARER_SECURITY,
        params: inventory.SkuParams,
        response: { 200: ok('The stock level', inventory.StockLevel, EXAMPLES.stockLevel), ...problems('NOT_FOUND') },
      },
      config: { access: 'admin' },
    },
    async (request, reply) =>
      relay(reply, 'inventory', await upstream.call(request, 'inventory', { method: 'GET', path: `/inventory/${encodeURIComponent(request.params.sku)}/level`, idempotent: true })),
  );

  app.put(
    '/api/v1/admin/inventory/:sku',
    {
      schema: {
        tags: [TAGS.inventory, TAGS.admin],
        operationId: 'setStock',
        summary: 'Set the units on hand of a SKU',
        security: BEARER_SECURITY,
        params: inventory.SkuParams,
        body: withExample(inventory.SetStockBody, EXAMPLES.setStock),
        response: { 200: ok('The stock level after the change', inventory.StockLevel, EXAMPLES.stockLevel), ...problems('CONFLICT') },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      const response = await upstream.call(request, 'inventory', { method: 'PUT', path: `/inventory/${encodeURIComponent(request.params.sku)}`, body: request.body });
      return relay(reply, 'inventory', response);
    },
  );
};
