import type { FastifyReply, FastifyRequest } from 'fastify';
import { SERVICE_NAMES, type ServiceName } from '@agora/contracts';
import { AppError, isProblem } from '@agora/kernel';
import { PROBLEM_CONTENT_TYPE, ServiceClient } from '@agora/platform';
import type { ServiceRequest, ServiceResponse, ServiceTransport } from '@agora/platform';
import { callerOf } from './auth.js';

export type { ServiceName } from '@agora/contracts';

const IDEMPOTENCY_HEADER = 'idempotency-key';

/**
 * What a client is told to wait after a call the gateway could not complete — no answer within its
 * timeout, a service unreachable: a transient fault (docs/operations.md), never an outcome. The
 * client sends the same request again (a checkout with the same Idempotency-Key is answered, not
 * run twice). A service's own wait (an open breaker's cool-down, a bulkhead) wins when it gave one.
 */
export const UPSTREAM_RETRY_AFTER_SECONDS = 1;

/** Response headers of a service that mean something to the outside client. */
const RELAYED_RESPONSE_HEADERS = ['retry-after', 'location', 'cache-control', 'etag', 'last-modified'] as const;

export function isSuccess(response: ServiceResponse): boolean {
  return response.status >= 200 && response.status < 300;
}

/**
 * The gateway's one way to a service: a ServiceClient per service over whatever transport the
 * composition root gave it (in-process today, HTTP with balancing in the cluster). Every call
 * carries the request id, the idempotency key, and the caller proven by the token — as the
 * request's `caller`, which the transport's caller assertion names (docs/security.md) — never a
 * header the client sent in the internal namespace.
 */
export class Upstream {
  private readonly clients: ReadonlyMap<ServiceName, ServiceClient>;

  constructor(
    transport: ServiceTransport,
    private readonly timeoutMs: number,
  ) {
    this.clients = new Map(SERVICE_NAMES.map((name) => [name, new ServiceClient(name, transport)]));
  }

  /** Calls a service; a transport failure or timeout becomes 503 UNAVAILABLE naming the service, with Retry-After. */
  async call(request: FastifyRequest, service: ServiceName, call: ServiceRequest): Promise<ServiceResponse> {
    const client = this.clients.get(service);
    if (!client) throw new Error(`gateway has no client for service ${service}`);
    const headers: Record<string, string> = {};
    const idempotencyKey = request.headers[IDEMPOTENCY_HEADER];
    if (typeof idempotencyKey === 'string') headers[IDEMPOTENCY_HEADER] = idempotencyKey;

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([client.raw({ ...call, caller: callerOf(request), headers: { ...call.headers, ...headers } }, { requestId: request.id }), timeout]);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      request.log.warn({ service, method: call.method, path: call.path, err: reason }, 'service call failed');
      const retryAfterSeconds = (err instanceof AppError ? err.retryAfterSeconds : undefined) ?? UPSTREAM_RETRY_AFTER_SECONDS;
      throw new AppError('UNAVAILABLE', `The ${service} service is unavailable; try again shortly`, { cause: err, extras: { service }, retryAfterSeconds });
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}

/**
 * Sends a service's answer to the client unchanged: same status, same body. Problems keep their
 * code and go out as problem+json. An error answer that is not a problem document means the
 * service misbehaved; the client still gets problem+json, never the raw text.
 */
export function relay(reply: FastifyReply, service: ServiceName, response: ServiceResponse): FastifyReply {
  for (const name of RELAYED_RESPONSE_HEADERS) {
    const value = response.headers[name];
    if (value !== undefined) reply.header(name, value);
  }
  if (isProblem(response.body)) return reply.code(response.status).type(PROBLEM_CONTENT_TYPE).send(response.body);
  if (response.status >= 400) {
    reply.log.error({ service, status: response.status }, 'service answered an error without a problem document');
    throw new AppError('UNAVAILABLE', `The ${service} service answered ${response.status} without a problem document`, { extras: { service } });
  }
  reply.code(response.status);
  if (typeof response.body === 'string') {
    const type = response.headers['content-type'];
    if (typeof type === 'string') reply.type(type);
    return reply.send(response.body);
  }
  return reply.send(response.body);
}
