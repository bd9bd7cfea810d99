import { Type } from 'typebox';
import { ok, problems } from '../schemas.js';
import { EXAMPLES } from '../examples.js';
import { TAGS } from '../openapi.js';
import { relay } from '../upstream.js';
import type { RouteArea } from './context.js';

export const SIGNATURE_HEADER = 'agora-signature';

/**
 * The payment provider's webhook. Its signature covers the exact bytes sent, so this route keeps
 * the body as the raw string and forwards it untouched; the payment service verifies it.
 */
export const paymentRoutes: RouteArea = (app, { upstream }) => {
  void app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    scope.post(
      '/api/v1/payments/webhook',
      {
        schema: {
          tags: [TAGS.payments],
          operationId: 'paymentWebhook',
          summary: 'Provider webhook (HMAC-signed with `agora-signature: t=<unix>,v1=<hex>`; 401 if the signature is bad)',
          headers: Type.Object({ [SIGNATURE_HEADER]: Type.Optional(Type.String({ maxLength: 512 })) }),
          response: {
            200: ok('Accepted (also for a duplicate delivery)', Type.Object({ received: Type.Boolean() }, { additionalProperties: true }), EXAMPLES.webhookReceived),
            ...problems('VALIDATION_FAILED', 'INVALID_SIGNATURE'),
          },
        },
      },
      async (request, reply) => {
        const signature = request.headers[SIGNATURE_HEADER];
        const rawBody = typeof request.body === 'string' ? request.body : '';
        const response = await upstream.call(request, 'payment', {
          method: 'POST',
          path: '/webhooks/sandbox',
          rawBody,
          headers: typeof signature === 'string' ? { [SIGNATURE_HEADER]: signature } : {},
        });
        return relay(reply, 'payment', response);
      },
    );
  });
};
