import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpTransport, StaticEndpointSource, createBalancer, type Balancer, type ServiceEndpoint, type ServiceRequest } from '../src/index.js';

/**
 * A 503 with Retry-After is an instance shedding load (admission control, a bulkhead, a transient
 * fault it classified): busy, not sick. Through the real HttpTransport, with the production
 * balancer (outlier ejection on) and the transport's breakers, it neither ejects the instance nor
 * opens its breaker. A 503 without Retry-After does both; a 500 ejects it (the breaker is for
 * instances that cannot answer: 502/503/504 and transport failures, docs/operations.md "Breakers").
 */

const SERVICE = 'order';
const FAILURES = 3;
/** Calls per scenario: round-robin over two instances sends half of them to the one under test. */
const CALLS = FAILURES * 4;
/** A write without an idempotency key: never retried, so every call is one attempt on one instance. */
const WRITE: ServiceRequest = { method: 'POST', path: '/orders', body: { sku: 'sku-1' } };

interface Answer {
  status: number;
  headers: Record<string, string>;
}

interface Instance {
  endpoint: ServiceEndpoint;
  answer: Answer;
  hits: number;
  server: Server;
}

async function startInstance(id: string): Promise<Instance> {
  const instance: Instance = { endpoint: { id, url: '' }, answer: { status: 201, headers: {} }, hits: 0, server: createServer() };
  instance.server.on('request', (request, response) => {
    request.resume();
    request.on('end', () => {
      instance.hits++;
      const { status, headers } = instance.answer;
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify({ status }));
    });
  });
  await new Promise<void>((resolve) => instance.server.listen(0, '127.0.0.1', resolve));
  const { port } = instance.server.address() as AddressInfo;
  instance.endpoint = { id, url: `http://127.0.0.1:${port}` };
  return instance;
}

/**
 * Each rule on its own: the balancer forgets what it knows of an instance the transport stops
 * offering it (an open breaker looks like a departure to it), so ejection is watched with the
 * breaker out of reach and the breaker with ejection off.
 */
const OUT_OF_REACH = CALLS * 10;

let busy: Instance;
let healthy: Instance;
const transports: HttpTransport[] = [];

beforeEach(async () => {
  [busy, healthy] = await Promise.all([startInstance('order-1'), startInstance('order-2')]);
});

afterEach(async () => {
  await Promise.all(transports.splice(0).map((transport) => transport.close()));
  for (const instance of [busy, healthy]) await new Promise((resolve) => instance.server.close(resolve));
});

/** CALLS writes with `busy` answering `answer`: what the caller got, and how each rule judged the instance. */
async function run(answer: Answer) {
  busy.answer = answer;
  const judged = async (breakerFailures: number, balancer: Balancer) => {
    const transport = new HttpTransport({
      endpoints: new StaticEndpointSource({ [SERVICE]: [busy.endpoint, healthy.endpoint] }),
      balancers: { forService: () => balancer },
      resilience: { breakerFailures, breakerHalfOpenAfterMs: 60_000, retries: 0 },
    });
    transports.push(transport);
    const statuses: number[] = [];
    for (let i = 0; i < CALLS; i++) statuses.push((await transport.request(SERVICE, WRITE).catch(() => ({ status: 0 }))).status);
    return { statuses, breaker: transport.breakerStates().find((state) => state.instanceId === busy.endpoint.id)?.state };
  };
  const ejecting = createBalancer('round-robin', { outlier: { consecutiveFailures: FAILURES } });
  const { statuses } = await judged(OUT_OF_REACH, ejecting);
  const hitsWhileEjecting = busy.hits;
  const { breaker } = await judged(FAILURES, createBalancer('round-robin', { outlier: false }));
  return { statuses, hitsWhileEjecting, ejected: ejecting.health.isEjected(busy.endpoint.id), failuresCounted: ejecting.health.health(busy.endpoint.id).consecutiveFailures, breaker };
}

describe('a 503 with Retry-After is not a failure of the instance', () => {
  it('503 + Retry-After: every one reaches the caller, the instance stays in rotation, its breaker closed', async () => {
    const outcome = await run({ status: 503, headers: { 'retry-after': '1' } });
    expect(outcome.hitsWhileEjecting).toBe(CALLS / 2);
    expect(outcome.statuses.filter((status) => status === 503)).toHaveLength(CALLS / 2);
    expect(outcome).toMatchObject({ ejected: false, failuresCounted: 0, breaker: 'closed' });
  });

  it('503 without Retry-After: ejected, and its breaker opens', async () => {
    const outcome = await run({ status: 503, headers: {} });
    expect(outcome).toMatchObject({ ejected: true, breaker: 'open' });
    expect(outcome.hitsWhileEjecting).toBe(FAILURES);
  });

  it('500: ejected by the balancer (its breaker stays closed: a 500 is an answer, not an instance that cannot answer)', async () => {
    const outcome = await run({ status: 500, headers: {} });
    expect(outcome).toMatchObject({ ejected: true, breaker: 'closed' });
    expect(outcome.hitsWhileEjecting).toBe(FAILURES);
  });

  it('a 502 with Retry-After is no shed: only a 503 says "busy, come back"', async () => {
    const outcome = await run({ status: 502, headers: { 'retry-after': '1' } });
    expect(outcome).toMatchObject({ ejected: true, breaker: 'open' });
  });
});
