import type { FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError, validationError, type Clock } from '@agora/kernel';
import { payment } from '@agora/contracts';
import type { HttpApp } from '@agora/platform';
import type { WebhookOutcome } from '../app/payments.js';
import { verifySignature } from '../domain/signature.js';
import type { SettlementEvent } from '../domain/settlement.js';

export interface WebhookRouteDeps {
  /** Path segment: `/webhooks/<provider>`. */
  provider: string;
  secret: string;
  clock: Clock;
  handle(event: SettlementEvent): Promise<WebhookOutcome>;
}

/**
 * A provider's webhook, in its own encapsulated scope: only here is JSON parsed by our parser, which
 * keeps the raw text the signature covers (re-serialising parsed JSON would not reproduce it).
 * Order of checks: malformed JSON → 400; bad, missing or stale signature → 401 with nothing
 * changed; a body of the wrong shape → 400 naming the field; then the event is applied once.
 */
export function registerWebhookRoutes(app: HttpApp, deps: WebhookRouteDeps): void {
  void app.register(async (plugin) => {
    const scope = plugin.withTypeProvider<TypeBoxTypeProvider>();
    const rawBodies = new WeakMap<FastifyRequest, string>();

    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const raw = typeof body === 'string' ? body : body.toString('utf8');
      rawBodies.set(request, raw);
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch (err) {
        const message = err instanceof Error ? err.message : 'unparseable';
        done(validationError([{ path: 'body', message }], 'Body is not valid JSON'), undefined);
        return;
      }
      done(null, parsed);
    });

    scope.post(
      `/webhooks/${deps.provider}`,
      {
        schema: { body: payment.WebhookEvent, response: { 200: payment.WebhookAck } },
        preValidation: async (request) => {
          const header = request.headers[payment.WEBHOOK_SIGNATURE_HEADER];
          const check = verifySignature(deps.secret, typeof header === 'string' ? header : undefined, rawBodies.get(request) ?? '', deps.clock.now());
          if (!check.ok) {
            request.log.warn({ reason: check.reason }, 'webhook refused: invalid signature');
            throw new AppError('INVALID_SIGNATURE', `webhook ${check.reason}`);
          }
        },
      },
      async (request) => {
        const outcome = await deps.handle(request.body);
        return { received: true as const, outcome };
      },
    );
  });
}
