import { payment } from '@agora/contracts';
import type { HttpApp } from '@agora/platform';
import type { Payments } from '../app/payments.js';

/**
 * The payment service's internal routes. The order service calls them through a ServiceClient;
 * every state change is idempotent (by the body's `idempotencyKey` or by state). A declined or
 * failed authorization is a 200 carrying that status: a business result the caller decides on.
 */
export function registerPaymentRoutes(app: HttpApp, payments: Payments): void {
  app.post('/payments/authorize', { schema: { body: payment.AuthorizeBody, response: { 200: payment.PaymentIntent } } }, async (request) =>
    payments.authorize(request.body),
  );

  app.post(
    '/payments/:id/capture',
    { schema: { params: payment.PaymentIdParams, body: payment.CaptureBody, response: { 200: payment.PaymentIntent } } },
    async (request) => payments.capture(request.params.id, request.body.idempotencyKey),
  );

  app.post(
    '/payments/:id/void',
    { schema: { params: payment.PaymentIdParams, body: payment.VoidBody, response: { 200: payment.PaymentIntent } } },
    async (request) => payments.void(request.params.id, request.body.idempotencyKey),
  );

  app.post(
    '/payments/:id/refund',
    { schema: { params: payment.PaymentIdParams, body: payment.RefundBody, response: { 200: payment.PaymentIntent } } },
    async (request) => payments.refund(request.params.id, request.body.amount, request.body.idempotencyKey),
  );

  app.get('/payments/:id', { schema: { params: payment.PaymentIdParams, response: { 200: payment.PaymentIntent } } }, async (request) =>
    payments.get(request.params.id),
  );

  app.get('/payments', { schema: { querystring: payment.PaymentListQuery, response: { 200: payment.PaymentList } } }, async (request) => ({
    items: await payments.listByOrder(request.query.orderId),
  }));
}
