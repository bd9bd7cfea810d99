import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_URL_PATH } from '@opentelemetry/semantic-conventions';
import { SpanKind, SpanStatusCode, contextWithSpan, extractTraceContext, startSpan, withContext, type Context, type Span } from '../telemetry/tracing.js';

/** The Agora service a span belongs to: tells services apart in the one process of `agora start`. */
export const ATTR_AGORA_SERVICE = 'agora.service';

interface RequestTrace {
  span: Span;
  context: Context;
}

/**
 * A SERVER span per request, continuing the caller's W3C trace context (`traceparent` and
 * `tracestate` headers), named `METHOD route`. Registered by createHttpApp only while tracing is
 * on. The span is made active for the hooks after `onRequest` and again right before the handler
 * (`preHandler`): body parsing runs in the socket's callbacks, outside the request's async
 * context, so the handler (and everything it awaits: queries, calls, in-process ports) is put
 * back into it explicitly.
 */
export function traceRequests(app: FastifyInstance, service: string): void {
  const traces = new WeakMap<FastifyRequest, RequestTrace>();

  app.addHook('onRequest', (request, _reply, done) => {
    const parent = extractTraceContext(request.headers);
    const route = request.routeOptions.url;
    const span = startSpan(`${request.method} ${route ?? 'unmatched'}`, {
      kind: SpanKind.SERVER,
      parent,
      attributes: {
        [ATTR_HTTP_REQUEST_METHOD]: request.method,
        [ATTR_URL_PATH]: request.url.split('?')[0] ?? request.url,
        [ATTR_AGORA_SERVICE]: service,
        ...(route === undefined ? {} : { [ATTR_HTTP_ROUTE]: route }),
      },
    });
    if (!span) return done();
    const active = contextWithSpan(span, parent);
    traces.set(request, { span, context: active });
    withContext(active, done);
  });

  app.addHook('preHandler', (request, _reply, done) => {
    const known = traces.get(request);
    if (!known) return done();
    withContext(known.context, done);
  });

  app.addHook('onError', async (request, _reply, error) => {
    traces.get(request)?.span.recordException(error);
  });

  app.addHook('onResponse', async (request, reply) => {
    const known = traces.get(request);
    if (!known) return;
    traces.delete(request);
    known.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, reply.statusCode);
    // A 4xx is the client's doing: the server span stays unset (OpenTelemetry's HTTP convention).
    if (reply.statusCode >= 500) known.span.setStatus({ code: SpanStatusCode.ERROR });
    known.span.end();
  });

  app.addHook('onRequestAbort', async (request) => {
    const known = traces.get(request);
    if (!known) return;
    traces.delete(request);
    known.span.setStatus({ code: SpanStatusCode.ERROR, message: 'client aborted the request' });
    known.span.end();
  });
}
