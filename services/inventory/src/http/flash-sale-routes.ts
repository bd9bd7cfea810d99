import { Type } from 'typebox';
import { IdParams, flashSale, order } from '@agora/contracts';
import { requireAdmin, requireCaller, type HttpApp } from '@agora/platform';
import type { FlashSaleAdmin } from '../app/flash-sale/admin.js';
import type { FlashSales } from '../app/flash-sale/flash-sales.js';

const PurchaseHeaders = Type.Object({ 'idempotency-key': order.IdempotencyKeyHeader });

/** The flash-sale routes of the inventory service (the gateway publishes them under /api/v1). */
export function registerFlashSaleRoutes(app: HttpApp, sales: FlashSales, admin: FlashSaleAdmin): void {
  app.post('/admin/flash-sales', { schema: { body: flashSale.CreateFlashSaleBody } }, async (request, reply) => {
    requireAdmin(request);
    return reply.code(201).send(await sales.create(request.body));
  });

  app.get('/admin/flash-sales', async (request) => {
    requireAdmin(request);
    return admin.list();
  });

  app.get('/admin/flash-sales/:id', { schema: { params: IdParams } }, async (request) => {
    requireAdmin(request);
    return admin.stats(request.params.id);
  });

  app.get('/flash-sales/:id', { schema: { params: IdParams } }, async (request) => sales.view(request.params.id));

  app.post('/flash-sales/:id/purchase', { schema: { params: IdParams, headers: PurchaseHeaders, body: flashSale.PurchaseBody } }, async (request, reply) => {
    const caller = requireCaller(request);
    const ticket = await sales.purchase(caller, request.params.id, request.headers['idempotency-key'], request.body.quantity);
    return reply.code(202).send(ticket);
  });

  app.get('/flash-sales/:id/tickets/:ticketId', { schema: { params: flashSale.TicketParams } }, async (request) =>
    sales.ticket(requireCaller(request), request.params.id, request.params.ticketId),
  );
}
