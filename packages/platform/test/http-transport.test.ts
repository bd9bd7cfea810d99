import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '@agora/kernel';
import {
  HttpTransport,
  Metrics,
  createBalancer,
  ServiceClient,
  StaticEndpointSource,
  type ResilienceSettings,
  type ServiceEndpoint,
  type ServiceRequest,
  type ServiceResponse,
} from '../src/index.js';
import { RoundRobinStub, refusingUrl, sign, startInstance, type TestInstance } from './http-transport-helpers.js';

const SERVICE = 'catalog';
/** Short backoffs keep the suite fast; everything else is the production default unless a test says so. */
const FAST: Partial<ResilienceSettings> = { retryBaseDelayMs: 1, retryMaxDelayMs: 5 };

let a: TestInstance;
let b: TestInstance;
let c: TestInstance;
const transports: HttpTransport[] = [];

function setup(endpoints: ServiceEndpoint[], resilience: Partial<ResilienceSettings> = {}, extra: { metrics?: Metrics } = {}) {
  const source = new StaticEndpointSource({ [SERVICE]: endpoints });
  const balancer = new RoundRobinStub();
  const transport = new HttpTransport({
    endpoints: source,
    balancers: balancer,
    resilience: { ...FAST, ...resilience },
    ...extra,
    affinityKey: (_service, request) => request.headers?.['x-cart-id'],
  });
  transports.push(transport);
  return { source, balancer, transport, client: new ServiceClient(SERVICE, transport) };
}

const GET_WHO: ServiceRequest = { method: 'GET', path: '/who' };
const POST_ORDER: ServiceRequest = { method: 'POST', path: '/orders', body: { sku: 'sku-1', quantity: 1 } };

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

beforeEach(async () => {
  [a, b, c] = await Promise.all([startInstance('a'), startInstance('b'), startInstance('c')]);
});

afterEach(async () => {
  await Promise.all(transports.splice(0).map((transport) => transport.close()));
  await Promise.all([a, b, c].map((instance) => instance.stop()));
});

describe('HttpTransport: balancing and the wire format', () => {
  it('spreads calls round-robin over 3 instances and answers like the in-process transport', async () => {
    const { transport, client } = setup([a.endpoint, b.endpoint, c.endpoint]);
    const answers: ServiceResponse[] = [];
    for (let i = 0; i < 30; i++) answers.push(await transport.request(SERVICE, GET_WHO));

    expect([a.hits('GET /who'), b.hits('GET /who'), c.hits('GET /who')]).toEqual([10, 10, 10]);
    expect(answers.map((answer) => (answer.body as { instance: string }).instance).slice(0, 6)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    const first = answers[0];
    expect(first?.status).toBe(200);
    expect(String(first?.headers['content-type'])).toContain('application/json');
    expect(transport.poolOrigins().sort()).toEqual([a.url, b.url, c.url].sort());

    const body = await client.call<{ instance: string }>(GET_WHO, { requestId: 'req-123', headers: { 'x-probe': 'hello' } });
    expect(body.instance).toBe('a');
    expect(a.requestIds.at(-1)).toBe('req-123');
    expect(a.probeHeaders).toEqual(['hello']);
  });

  it('sends a rawBody byte for byte (an HMAC over it still verifies)', async () => {
    const { transport } = setup([a.endpoint]);
    // Spacing, key order, escapes and non-ASCII that a parse + re-serialise would all change.
    const rawBody = '{"type":"payment.succeeded",  "amount":1999,"note":"caf\u00e9 \\u00e9 \u2713","z":1,"a":[ ]}\n';
    const response = await transport.request(SERVICE, {
      method: 'POST',
      path: '/webhook',
      rawBody,
      headers: { 'x-signature': sign(rawBody) },
    });
    expect(response.status).toBe(200);
    const body = response.body as { valid: boolean; bytes: number; hex: string };
    expect(body.valid).toBe(true);
    expect(body.bytes).toBe(Buffer.byteLength(rawBody, 'utf8'));
    expect(body.hex).toBe(Buffer.from(rawBody, 'utf8').toString('hex'));
  });

  it('passes problem+json answers through with their status, without retrying a 4xx', async () => {
    const { transport, client } = setup([a.endpoint, b.endpoint]);
    const response = await transport.request(SERVICE, { method: 'GET', path: '/problem' });
    expect(response.status).toBe(409);
    expect(String(response.headers['content-type'])).toContain('application/problem+json');
    expect(response.body).toMatchObject({ code: 'OUT_OF_STOCK', status: 409, detail: 'sku-1 is out of stock', sku: 'sku-1' });
    expect(a.hits('GET /problem') + b.hits('GET /problem')).toBe(1);

    const missing = await transport.request(SERVICE, { method: 'GET', path: '/nowhere' });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'NOT_FOUND' });

    // Through the typed client the problem becomes the callee's own error again.
    const error = await rejection(client.call({ method: 'GET', path: '/problem' }));
    expect(error.code).toBe('OUT_OF_STOCK');
  });

  it('forwards the affinity key to the balancer and reports attempts to it', async () => {
    const { transport, balancer } = setup([a.endpoint, b.endpoint]);
    await transport.request(SERVICE, { ...GET_WHO, headers: { 'x-cart-id': 'cart-9' } });
    expect(balancer.keys).toEqual(['cart-9']);
    expect(balancer.started).toEqual(['a']);
    expect(balancer.ended).toEqual([{ id: 'a', ok: true }]);
  });

  it('joins the endpoint URL and the request path (trailing slash, query string)', async () => {
    const { transport } = setup([{ id: 'a', url: `${a.url}/` }]);
    const response = await transport.request(SERVICE, { method: 'GET', path: '/who?x=1&y=%20' });
    expect(response.status).toBe(200);
    expect(a.hits('GET /who')).toBe(1);
  });

  it('answers UNAVAILABLE naming the service when no instance is registered', async () => {
    const { transport } = setup([]);
    const error = await rejection(transport.request(SERVICE, GET_WHO));
    expect(error.status).toBe(503);
    expect(error.message).toContain(`no healthy instance of ${SERVICE}`);
  });
});

describe('HttpTransport: retries', () => {
  it('retries an idempotent GET on another instance when one is closed: no client-visible error', async () => {
    const { transport, balancer } = setup([a.endpoint, b.endpoint, c.endpoint]);
    await transport.request(SERVICE, GET_WHO); // warm a pool connection to every instance
    await transport.request(SERVICE, GET_WHO);
    await transport.request(SERVICE, GET_WHO);
    await b.stop();

    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await transport.request(SERVICE, GET_WHO)).status);
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(a.hits('GET /who') + c.hits('GET /who')).toBe(2 + 30);
    expect(balancer.ended.some((end) => end.id === 'b' && !end.ok)).toBe(true);
  });

  it('retries an idempotent GET on another instance when the connection dies mid-request', async () => {
    const { transport, balancer } = setup([a.endpoint, b.endpoint, c.endpoint]);
    a.mode = 'destroy';
    const bodies: unknown[] = [];
    for (let i = 0; i < 12; i++) bodies.push((await transport.request(SERVICE, GET_WHO)).body);
    expect(bodies.every((body) => (body as { instance: string }).instance !== 'a')).toBe(true);
    expect(a.hits('GET /who')).toBeGreaterThan(0);
    // The retry went to an instance other than the one that just failed.
    const aIndex = balancer.picks.indexOf('a');
    expect(balancer.picks[aIndex + 1]).not.toBe('a');
    expect(balancer.candidateLists[aIndex + 1]).not.toContain('a');
  });

  it('keeps one request id across the attempts of a call', async () => {
    const { transport } = setup([a.endpoint, b.endpoint]);
    a.mode = 'destroy';
    await transport.request(SERVICE, { ...GET_WHO, headers: { 'x-request-id': 'req-retry-1' } });
    expect(a.requestIds).toEqual(['req-retry-1']);
    expect(b.requestIds).toEqual(['req-retry-1']);
  });

  it('does not retry a POST that reached a server which then failed', async () => {
    const { transport } = setup([a.endpoint, b.endpoint]);
    a.mode = 'destroy';
    const error = await rejection(transport.request(SERVICE, POST_ORDER));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toContain(SERVICE);
    expect(a.hits('POST /orders')).toBe(1);
    expect(b.hits('POST /orders')).toBe(0);
  });

  it('retries a POST whose connection was refused before anything was sent', async () => {
    const { transport } = setup([{ id: 'gone', url: await refusingUrl() }, b.endpoint]);
    const response = await transport.request(SERVICE, POST_ORDER);
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ instance: 'b' });
    expect(b.hits('POST /orders')).toBe(1);
  });

  it('retries a POST flagged idempotent (it carries an idempotency key) after a lost connection', async () => {
    const { transport } = setup([a.endpoint, b.endpoint]);
    a.mode = 'destroy';
    const response = await transport.request(SERVICE, { ...POST_ORDER, idempotent: true, headers: { 'idempotency-key': 'k-1' } });
    expect(response.status).toBe(201);
    expect([a.hits('POST /orders'), b.hits('POST /orders')]).toEqual([1, 1]);
  });

  it('times out a slow instance and retries a GET elsewhere; a timed-out POST is not retried', async () => {
    const { transport } = setup([a.endpoint, b.endpoint], { readTimeoutMs: 150, writeTimeoutMs: 150 });
    a.mode = 'slow';
    const response = await transport.request(SERVICE, GET_WHO);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ instance: 'b' });
    expect(a.hits('GET /who')).toBe(1);

    const error = await rejection(transport.request(SERVICE, POST_ORDER));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/timed out/);
    expect(a.hits('POST /orders')).toBe(1);
    expect(b.hits('POST /orders')).toBe(0);
  });

  it('retries a GET answered 503 elsewhere, but hands a POST its 503 answer', async () => {
    const { transport } = setup([a.endpoint, b.endpoint]);
    a.mode = 'unavailable';
    const read = await transport.request(SERVICE, GET_WHO);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ instance: 'b' });

    // Round-robin's next pick is a again: the POST gets a's 503 as an answer, not a throw, and no retry.
    const write = await transport.request(SERVICE, POST_ORDER);
    expect(write.status).toBe(503);
    expect(write.body).toMatchObject({ code: 'UNAVAILABLE' });
    expect(write.headers['retry-after']).toBe('1');
    expect([a.hits('POST /orders'), b.hits('POST /orders')]).toEqual([1, 0]);
  });
});

describe('HttpTransport: outlier ejection hears a shed as busy, not sick', () => {
  it('reports a 503 with Retry-After as a good outcome to the balancer, a 503 without it as a failure', async () => {
    const { transport, balancer } = setup([a.endpoint]);
    a.mode = 'unavailable';
    for (let i = 0; i < 3; i++) expect((await transport.request(SERVICE, POST_ORDER)).status).toBe(503);
    expect(balancer.ended).toEqual([
      { id: 'a', ok: true },
      { id: 'a', ok: true },
      { id: 'a', ok: true },
    ]);

    balancer.ended.length = 0;
    a.mode = 'sick';
    expect((await transport.request(SERVICE, POST_ORDER)).status).toBe(503);
    expect(balancer.ended).toEqual([{ id: 'a', ok: false }]);
  });

  it('keeps a shedding instance in rotation under the real balancer, and ejects a sick one', async () => {
    const transport = new HttpTransport({
      endpoints: new StaticEndpointSource({ [SERVICE]: [a.endpoint, b.endpoint] }),
      balancers: { forService: () => createBalancer('round-robin') },
      resilience: { ...FAST, breakerFailures: 1_000 },
    });
    transports.push(transport);
    a.mode = 'unavailable';
    for (let i = 0; i < 20; i++) await transport.request(SERVICE, POST_ORDER);
    const shedHits = a.hits('POST /orders');
    for (let i = 0; i < 20; i++) await transport.request(SERVICE, POST_ORDER);
    // Still picked as often after 20 sheds as before them: nothing ejected it.
    expect(a.hits('POST /orders') - shedHits).toBeGreaterThanOrEqual(5);

    a.mode = 'sick';
    for (let i = 0; i < 20; i++) await transport.request(SERVICE, POST_ORDER);
    const sickHits = a.hits('POST /orders');
    for (let i = 0; i < 20; i++) await transport.request(SERVICE, POST_ORDER);
    // Ejected for consecutive failures: the next calls go to b.
    expect(a.hits('POST /orders') - sickHits).toBe(0);
  });
});

describe('HttpTransport: circuit breakers', () => {
  it('opens after N consecutive failures, skips the instance, half-opens after the cool-down and closes on a good probe', async () => {
    const { transport, balancer } = setup([a.endpoint, b.endpoint], { breakerFailures: 2, breakerHalfOpenAfterMs: 150 });
    a.mode = 'destroy';
    for (let i = 0; i < 10; i++) expect((await transport.request(SERVICE, GET_WHO)).status).toBe(200);

    const stateOf = (id: string) => transport.breakerStates().find((state) => state.instanceId === id);
    expect(stateOf('a')).toEqual({ service: SERVICE, instanceId: 'a', url: a.url, state: 'open', consecutiveFailures: 2 });
    expect(stateOf('b')).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect(a.hits('GET /who')).toBe(2);
    // Once open, the balancer is never offered a.
    const lastSeen = balancer.candidateLists.slice(-5);
    expect(lastSeen.every((list) => !list.includes('a'))).toBe(true);

    // Cool-down over: half-open; the probe fails (a still broken) and it opens again.
    await vi.waitFor(() => expect(stateOf('a')?.state).toBe('half-open'), { timeout: 5_000, interval: 20 });
    for (let i = 0; i < 4 && a.hits('GET /who') === 2; i++) expect((await transport.request(SERVICE, GET_WHO)).status).toBe(200);
    expect(a.hits('GET /who')).toBe(3);
    expect(stateOf('a')).toMatchObject({ state: 'open', consecutiveFailures: 3 });

    // a recovers: the next probe succeeds and closes the breaker.
    a.mode = 'ok';
    await vi.waitFor(() => expect(stateOf('a')?.state).toBe('half-open'), { timeout: 5_000, interval: 20 });
    for (let i = 0; i < 4 && a.hits('GET /who') === 3; i++) expect((await transport.request(SERVICE, GET_WHO)).status).toBe(200);
    expect(a.hits('GET /who')).toBe(4);
    expect(stateOf('a')).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
  });

  it('fails fast with UNAVAILABLE and a Retry-After when every breaker is open', async () => {
    const { transport } = setup([a.endpoint], { breakerFailures: 1, breakerHalfOpenAfterMs: 60_000, retries: 0 });
    a.mode = 'destroy';
    await rejection(transport.request(SERVICE, GET_WHO));
    const error = await rejection(transport.request(SERVICE, GET_WHO));
    expect(error.status).toBe(503);
    expect(error.message).toContain(`no healthy instance of ${SERVICE}`);
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(a.hits('GET /who')).toBe(1);
  });

  it('forgets the breaker and closes the pool of an instance that leaves', async () => {
    const { transport, source } = setup([a.endpoint, b.endpoint]);
    await transport.request(SERVICE, GET_WHO);
    await transport.request(SERVICE, GET_WHO);
    expect(transport.poolOrigins().sort()).toEqual([a.url, b.url].sort());
    expect(transport.breakerStates().map((state) => state.instanceId).sort()).toEqual(['a', 'b']);

    source.set(SERVICE, [b.endpoint]);
    await transport.request(SERVICE, GET_WHO);
    expect(transport.poolOrigins()).toEqual([b.url]);
    expect(transport.breakerStates().map((state) => state.instanceId)).toEqual(['b']);
  });
});

describe('HttpTransport: bulkhead and metrics', () => {
  it('rejects calls beyond concurrency + queue with 503 and Retry-After, and runs the rest', async () => {
    const { transport } = setup([a.endpoint], { bulkheadConcurrency: 1, bulkheadQueue: 1 });
    a.mode = 'slow';
    const running = transport.request(SERVICE, GET_WHO);
    const queued = transport.request(SERVICE, GET_WHO);
    const refused = await rejection(transport.request(SERVICE, GET_WHO));
    expect(refused.status).toBe(503);
    expect(refused.code).toBe('UNAVAILABLE');
    expect(refused.retryAfterSeconds).toBe(1);
    expect(refused.message).toContain(SERVICE);

    await vi.waitFor(() => expect(a.hits('GET /who')).toBe(1), { timeout: 5_000, interval: 10 });
    a.mode = 'ok';
    a.release();
    expect((await running).status).toBe(200);
    expect((await queued).status).toBe(200);
    expect(a.hits('GET /who')).toBe(2);
  });

  it('records call durations by outcome, retries and breaker opens', async () => {
    const metrics = new Metrics(false);
    const { transport } = setup([a.endpoint, b.endpoint], { breakerFailures: 1, breakerHalfOpenAfterMs: 60_000 }, { metrics });
    a.mode = 'destroy';
    await transport.request(SERVICE, GET_WHO); // a fails (breaker opens), retried on b
    await transport.request(SERVICE, { method: 'GET', path: '/problem' });
    const text = await metrics.text();
    expect(text).toContain(`agora_service_call_duration_seconds_count{service="${SERVICE}",outcome="ok"} 1`);
    expect(text).toContain(`agora_service_call_duration_seconds_count{service="${SERVICE}",outcome="client_error"} 1`);
    expect(text).toContain(`agora_service_call_retries_total{service="${SERVICE}"} 1`);
    expect(text).toContain(`agora_service_breaker_opens_total{service="${SERVICE}"} 1`);
  });

  it('refuses calls after close()', async () => {
    const { transport } = setup([a.endpoint]);
    await transport.request(SERVICE, GET_WHO);
    await transport.close();
    expect(transport.poolOrigins()).toEqual([]);
    const error = await rejection(transport.request(SERVICE, GET_WHO));
    expect(error.code).toBe('UNAVAILABLE');
  });
});
