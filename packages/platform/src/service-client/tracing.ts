import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_URL_PATH } from '@opentelemetry/semantic-conventions';
import { SpanKind, SpanStatusCode, injectTraceHeaders, inSpan, tracingActive } from '../telemetry/tracing.js';
import type { ServiceRequest, ServiceResponse, ServiceTransport } from './transport.js';

/** The service a client span calls (OpenTelemetry's peer.service). */
export const ATTR_PEER_SERVICE = 'peer.service';

/**
 * A CLIENT span around every call of a transport (`METHOD service`), whose context travels to the
 * callee as W3C `traceparent`/`tracestate` headers; the callee's server span is its child. One
 * span per call, retries and all (the resilient transport's attempts are inside it).
 */
export class TracingTransport implements ServiceTransport {
  constructor(private readonly inner: ServiceTransport) {}

  request(service: string, request: ServiceRequest): Promise<ServiceResponse> {
    const path = request.path.split('?')[0] ?? request.path;
    return inSpan(
      `${request.method} ${service}`,
      { kind: SpanKind.CLIENT, attributes: { [ATTR_HTTP_REQUEST_METHOD]: request.method, [ATTR_URL_PATH]: path, [ATTR_PEER_SERVICE]: service } },
      async (span) => {
        const headers: Record<string, string> = { ...request.headers };
        injectTraceHeaders(headers);
        const response = await this.inner.request(service, { ...request, headers });
        span?.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.status);
        // A 4xx answered the call; only a 5xx (or no answer: a throw) fails the client span.
        if (response.status >= 500) span?.setStatus({ code: SpanStatusCode.ERROR });
        return response;
      },
    );
  }
}

/** `transport` with client spans while tracing is on; the transport itself otherwise (no cost). */
export function traceTransport<T extends ServiceTransport>(transport: T): T | TracingTransport {
  return tracingActive() ? new TracingTransport(transport) : transport;
}
