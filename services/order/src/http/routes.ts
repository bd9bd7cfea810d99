import { Type } from 'typebox';
import { IdParams, order } from '@agora/contracts';
import { requireAdmin, requireCaller, type Caller, type HttpApp } from '@agora/platform';
import type { Orders } from '../app/orders.js';
import type { AdmissionGate } from './admission.js';

const CheckoutHeaders = Type.Object({ 'idempotency-key': Type.Optional(order.IdempotencyKeyHeader) });

/**
 * `checkoutGate` bounds the checkouts this process runs and queues; one it refuses answers 503
 * with Retry-After before any work (no order, no idempotency record), so its retry starts afresh.
 */
export function registerOrderRoutes(app: HttpApp, orders: Orders, checkoutGate: AdmissionGate, beforeCancel: (caller: Caller, orderId: string) => Promise<void> = async () => undefined): void {
  app.post('/checkout', { schema: { headers: CheckoutHeaders, body: order.CheckoutBody } }, async (request, reply) => {
    const caller = requireCaller(request);
    // Replays of a finished checkout (same Idempotency-Key) pass the gate too, though they only
    // read the stored answer: they are cheap and brief, so they free their slot at once, and a
    // replay refused under overload is just retried later with the same key — nothing is lost.
    const result = await checkoutGate.run(() => orders.checkout(caller, request.headers['idempotency-key'], request.body, request.id));
    if (result.replayed) reply.header('idempotent-replayed', 'true');
    return reply.code(result.status).send(result.body);
  });

  app.get('/orders', { schema: { querystring: order.OrderListQuery } }, async (request) => {
    const caller = requireCaller(request);
    return orders.list(caller, request.query.limit ?? 20, request.query.cursor);
  });

  app.get('/orders/:id', { schema: { params: IdParams } }, async (request) => orders.get(requireCaller(request), request.params.id));

  app.post('/orders/:id/cancel', { schema: { params: IdParams } }, async (request) => {
    const caller = requireCaller(request);
    await beforeCancel(caller, request.params.id);
    return orders.cancel(caller, request.params.id);
  });

  app.get('/admin/orders', { schema: { querystring: order.AdminOrderQuery } }, async (request) => {
    requireAdmin(request);
    return orders.listAll(request.query.status, request.query.limit ?? 20, request.query.cursor);
  });
}
