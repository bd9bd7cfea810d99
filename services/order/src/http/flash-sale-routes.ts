import { IdParams, order } from '@agora/contracts';
import { requireCaller, type HttpApp } from '@agora/platform';
import type { FlashSalePayments } from '../app/flash-sale/pay.js';

/** `POST /orders/:id/pay`: only flash-sale orders wait for a payment (app/flash-sale/pay.ts). */
export function registerPayRoute(app: HttpApp, payments: FlashSalePayments): void {
  app.post('/orders/:id/pay', { schema: { params: IdParams, body: order.PayBody, response: { 200: order.Order } } }, async (request, reply) => {
    const answer = await payments.pay(requireCaller(request), request.params.id, request.body);
    return reply.code(answer.status).send(answer.order);
  });
}
