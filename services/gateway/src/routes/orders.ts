import { Type } from 'typebox';
import { IdParams } from '@agora/contracts';
import { order } from '@agora/contracts';
import { BEARER_SECURITY, ok, problems, withExample } from '../schemas.js';
import { EXAMPLES } from '../examples.js';
import { TAGS } from '../openapi.js';
import { requireCaller } from '../auth.js';
import { relay } from '../upstream.js';
import type { RouteArea } from './context.js';

/** `Idempotency-Key` is required on checkout (docs/api.md#idempotency-key): a retried checkout must never buy twice. */
const RequiredIdempotencyHeaders = Type.Object({ 'idempotency-key': order.IdempotencyKeyHeader });

function pageQueryString(query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
  const text = params.toString();
  return text.length > 0 ? `?${text}` : '';
}

/** Checkout, the caller's orders, cancel and pay, and the operators' view across users. */
export const orderRoutes: RouteArea = (app, { upstream, order: inProcess }) => {
  app.post(
    '/api/v1/checkout',
    {
      schema: {
        tags: [TAGS.orders],
        operationId: 'checkout',
        summary: 'Turn the cart into an order: reserve stock, authorize and capture payment',
        description:
          '201 with the final order, 202 while an asynchronous payment is pending. 409 CART_EMPTY, 409 OUT_OF_STOCK (order REJECTED in the body), 402 PAYMENT_DECLINED (order PAYMENT_FAILED in the body).',
        security: BEARER_SECURITY,
        headers: RequiredIdempotencyHeaders,
        body: withExample(order.CheckoutBody, EXAMPLES.checkout),
        response: {
          201: ok('The order, final', order.Order, EXAMPLES.order),
          202: ok('The order, payment still pending', order.Order, EXAMPLES.pendingOrder),
          ...problems('PAYMENT_DECLINED', 'CART_EMPTY', 'OUT_OF_STOCK', 'CONFLICT', 'IDEMPOTENCY_MISMATCH'),
        },
      },
      config: { access: 'user' },
    },
    async (request, reply) => {
      if (inProcess) {
        const answer = await inProcess.checkout(requireCaller(request), request.headers['idempotency-key'], request.body, { requestId: request.id });
        return reply.code(answer.status).send(answer.order);
      }
      return relay(reply, 'order', await upstream.call(request, 'order', { method: 'POST', path: '/checkout', body: request.body }));
    },
  );

  app.get(
    '/api/v1/orders',
    {
      schema: {
        tags: [TAGS.orders],
        operationId: 'listOrders',
        summary: "The caller's orders, newest first",
        security: BEARER_SECURITY,
        querystring: order.OrderListQuery,
        response: { 200: ok('A page of orders', order.OrderPage, EXAMPLES.orderPage), ...problems() },
      },
      config: { access: 'user' },
    },
    async (request, reply) =>
      relay(reply, 'order', await upstream.call(request, 'order', { method: 'GET', path: `/orders${pageQueryString(request.query)}`, idempotent: true })),
  );

  app.get(
    '/api/v1/orders/:id',
    {
      schema: {
        tags: [TAGS.orders],
        operationId: 'getOrder',
        summary: 'One order with its status history (404 if it is not the caller’s; admins see all)',
        security: BEARER_SECURITY,
        params: IdParams,
        response: { 200: ok('The order', order.Order, EXAMPLES.order), ...problems('NOT_FOUND') },
      },
      config: { access: 'user' },
    },
    async (request, reply) =>
      relay(reply, 'order', await upstream.call(request, 'order', { method: 'GET', path: `/orders/${request.params.id}`, idempotent: true })),
  );

  app.post(
    '/api/v1/orders/:id/cancel',
    {
      schema: {
        tags: [TAGS.orders],
        operationId: 'cancelOrder',
        summary: 'Cancel an order: refund what was captured and put the stock back',
        security: BEARER_SECURITY,
        params: IdParams,
        response: { 200: ok('The order, CANCELLED', order.Order, EXAMPLES.cancelledOrder), ...problems('NOT_FOUND', 'CONFLICT') },
      },
      config: { access: 'user' },
    },
    async (request, reply) => relay(reply, 'order', await upstream.call(request, 'order', { method: 'POST', path: `/orders/${request.params.id}/cancel` })),
  );

  app.post(
    '/api/v1/orders/:id/pay',
    {
      schema: {
        tags: [TAGS.orders],
        operationId: 'payOrder',
        summary: 'Pay an order that is RESERVED and awaiting payment (flash-sale orders)',
        security: BEARER_SECURITY,
        params: IdParams,
        body: withExample(order.PayBody, EXAMPLES.pay),
        response: {
          200: ok('The order after payment', order.Order, EXAMPLES.order),
          202: ok('Payment pending', order.Order, EXAMPLES.pendingOrder),
          ...problems('PAYMENT_DECLINED', 'NOT_FOUND', 'CONFLICT'),
        },
      },
      config: { access: 'user' },
    },
    async (request, reply) =>
      relay(reply, 'order', await upstream.call(request, 'order', { method: 'POST', path: `/orders/${request.params.id}/pay`, body: request.body })),
  );

  app.get(
    '/api/v1/admin/orders',
    {
      schema: {
        tags: [TAGS.orders, TAGS.admin],
        operationId: 'listAllOrders',
        summary: 'Orders of every user, newest first, optionally by status',
        security: BEARER_SECURITY,
        querystring: order.AdminOrderQuery,
        response: { 200: ok('A page of orders', order.OrderPage, EXAMPLES.orderPage), ...problems() },
      },
      config: { access: 'admin' },
    },
    async (request, reply) =>
      relay(reply, 'order', await upstream.call(request, 'order', { method: 'GET', path: `/admin/orders${pageQueryString(request.query)}`, idempotent: true })),
  );
};
