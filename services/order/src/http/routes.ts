import { Type } from 'typebox';
import { IdParams, order } from '@agora/contracts';
import { requireAdmin, requireCaller, type Caller, type HttpApp } from '@agora/platform';
import type { Orders } from '../app/orders.js';
import { checkoutAnswer, type InProcessOrderPort } from '../port.js';

const CheckoutHeaders = Type.Object({ 'idempotency-key': Type.Optional(order.IdempotencyKeyHeader) });

/**
 * The success answers, serialized through the contract's schemas (packages/contracts/src/order.ts):
 * a field the contract lacks never leaks out, and one it requires cannot go missing unnoticed.
 * Problems (4xx, 5xx) are problem+json made by one function (packages/kernel/src/errors.ts).
 */
const CheckoutAnswers = { 201: order.Order, 202: order.Order };
const OrderAnswer = { 200: order.Order };
const OrderPageAnswer = { 200: order.OrderPage };

/**
 * `checkouts` is the order port (services/order/src/port.ts): its admission gate bounds the
 * checkouts this process runs and queues; one it refuses answers 503 with Retry-After before any
 * work (no order, no idempotency record), so its retry starts afresh.
 */
export function registerOrderRoutes(app: HttpApp, orders: Orders, checkouts: InProcessOrderPort, beforeCancel: (caller: Caller, orderId: string) => Promise<void> = async () => undefined): void {
  app.post('/checkout', { schema: { headers: CheckoutHeaders, body: order.CheckoutBody, response: CheckoutAnswers } }, async (request, reply) => {
    const result = await checkouts.admitted(requireCaller(request), request.headers['idempotency-key'], request.body, request.id);
    if (result.replayed) reply.header('idempotent-replayed', 'true');
    // A problem kept for the key is thrown, so the error handler writes it as problem+json.
    const answer = checkoutAnswer(result);
    return reply.code(answer.status).send(answer.order);
  });

  app.get('/orders', { schema: { querystring: order.OrderListQuery, response: OrderPageAnswer } }, async (request) => {
    const caller = requireCaller(request);
    return orders.list(caller, request.query.limit ?? 20, request.query.cursor);
  });

  app.get('/orders/:id', { schema: { params: IdParams, response: OrderAnswer } }, async (request) => orders.get(requireCaller(request), request.params.id));

  app.post('/orders/:id/cancel', { schema: { params: IdParams, response: OrderAnswer } }, async (request) => {
    const caller = requireCaller(request);
    await beforeCancel(caller, request.params.id);
    return orders.cancel(caller, request.params.id);
  });

  app.get('/admin/orders', { schema: { querystring: order.AdminOrderQuery, response: OrderPageAnswer } }, async (request) => {
    requireAdmin(request);
    return orders.listAll({ status: request.query.status, userId: request.query.userId }, request.query.limit ?? 20, request.query.cursor);
  });

  // The admin overview's order figures (the gateway adds the stock alerts): orders opened since `since`.
  app.get('/admin/figures', { schema: { querystring: order.OrderFiguresQuery, response: { 200: order.OrderFigures } } }, async (request) => {
    requireAdmin(request);
    return orders.figures(new Date(request.query.since));
  });
}
