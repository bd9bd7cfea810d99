import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ConfigError } from '@agora/kernel';
import { InMemoryEventBus, createLogger, inSpan, startTracing, traceBus, traceTransport, tracesExporterFromEnv, tracingActive, type ServiceTransport, type TracingHandle } from '@agora/platform';
import { postgresBackend, natsAvailable } from '@agora/platform/testing';
import { Api, uniqueEmail } from '../support/http.js';
import { ADMIN, startSystem, type RunningSystem } from '../support/system.js';
import { checkoutBody } from '../support/shop.js';
import { clusterServersAvailable, startTestCluster, type TestCluster } from '../cluster/support.js';

/**
 * Traces (docs/operations.md, "Traces"). A real cluster exports OTLP/HTTP (JSON) to a receiver
 * inside this test: one checkout through the gateway is one trace with spans from the gateway,
 * cart, order, inventory and payment processes, each server span the child of a client span,
 * PostgreSQL statements in it and the order.confirmed consumer too. In one process (`agora
 * start`), the spans of a checkout nest into one trace as well; a log line carries the trace id.
 */

/** OTLP span kinds (the JSON encoding's integers). */
const KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
/** How long exported spans may take to arrive (the processes batch them every OTEL_BSP_SCHEDULE_DELAY). */
const SPANS_ARRIVE_MS = 60_000;
const POLL_MS = 250;

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
}
interface OtlpRequest {
  resourceSpans?: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

/** A received span with the `service.name` of the process that sent it. */
interface ReceivedSpan extends OtlpSpan {
  service: string;
}

function attribute(attributes: OtlpAttribute[] | undefined, key: string): string | undefined {
  const found = attributes?.find((a) => a.key === key)?.value;
  if (found === undefined) return undefined;
  return found.stringValue ?? (found.intValue === undefined ? undefined : String(found.intValue));
}

/** A tiny OTLP/HTTP receiver: POST /v1/traces with a JSON body, every span kept. */
async function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).includes('json')) {
        res.writeHead(415).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpRequest;
      for (const resource of body.resourceSpans ?? []) {
        const service = attribute(resource.resource?.attributes, 'service.name') ?? 'unknown';
        for (const scope of resource.scopeSpans ?? []) for (const span of scope.spans ?? []) spans.push({ ...span, service });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A W3C traceparent the test's own "client span" sends: the trace id to look for afterwards. */
function clientTraceparent(): { traceId: string; spanId: string; header: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

async function until<T>(what: string, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + SPANS_ARRIVE_MS;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Registers a shopper, creates a SKU with stock, puts it in the cart; returns the shopper's token. */
async function shopperWithCart(api: Api, adminToken: string): Promise<string> {
  const sku = `TRACE-${randomUUID().slice(0, 8)}`;
  const product = await api.post('/api/v1/admin/products', { name: 'Traced item', description: 'one trace', category: 'trace', variants: [{ sku, title: 'One', price: { amount: 1_500, currency: 'USD' } }] }, { token: adminToken });
  expect(product.status, product.text).toBe(201);
  expect((await api.put(`/api/v1/admin/inventory/${sku}`, { onHand: 5 }, { token: adminToken })).status).toBe(200);
  const registered = await api.post<{ token: string }>('/api/v1/auth/register', { email: uniqueEmail('traced'), password: 'correct horse battery', name: 'Traced' });
  expect(registered.status, registered.text).toBe(201);
  const added = await api.post('/api/v1/cart/items', { sku, quantity: 1 }, { token: registered.body.token });
  expect(added.status, added.text).toBe(200);
  return registered.body.token;
}

async function checkout(api: Api, token: string, traceparent: string): Promise<void> {
  const res = await api.post<{ status: string }>('/api/v1/checkout', checkoutBody('tok_visa'), { token, headers: { 'idempotency-key': randomUUID(), traceparent } });
  expect(res.status, res.text).toBe(201);
  expect(res.body.status).toBe('CONFIRMED');
}

describe('tracing configuration', () => {
  it('is on only when an exporter is configured, and refuses an exporter it does not know', () => {
    expect(tracesExporterFromEnv({})).toBe('none');
    expect(tracesExporterFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe('otlp');
    expect(tracesExporterFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe('otlp');
    expect(tracesExporterFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe('none');
    expect(tracesExporterFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe('none');
    expect(tracesExporterFromEnv({ OTEL_TRACES_EXPORTER: 'console' })).toBe('console');
    expect(() => tracesExporterFromEnv({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(ConfigError);
  });

  it('off, nothing is wrapped: the transport and the bus are the objects given', () => {
    expect(startTracing({ service: 'test', instanceId: 'off', env: {} }).active).toBe(false);
    expect(tracingActive()).toBe(false);
    const transport: ServiceTransport = { request: () => Promise.reject(new Error('not called')) };
    expect(traceTransport(transport)).toBe(transport);
    const bus = new InMemoryEventBus({ logger: createLogger('tracing-test', 'silent') });
    expect(traceBus(bus, 'in-memory')).toBe(bus);
    void bus.close();
  });
});

describe.runIf(await clusterServersAvailable())('traces across a real cluster (OTLP/HTTP)', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let tc: TestCluster;

  beforeAll(async () => {
    receiver = await startReceiver();
    tc = await startTestCluster({
      gateways: 1,
      services: { identity: 1, catalog: 1, inventory: 1, cart: 1, order: 1, payment: 1 },
      admin: { email: 'traces-admin@test.agora', password: 'traces-admin-password-1' },
      connections: 24,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_TRACES_SAMPLER: 'parentbased_always_on' },
    });
  }, 420_000);

  afterAll(async () => {
    await tc?.stop();
    await receiver?.close();
  }, 120_000);

  it('one checkout is one trace: gateway, cart, order, inventory and payment; servers under clients; SQL; the order.confirmed consumer', async () => {
    const api = new Api(tc.gateway);
    const token = await shopperWithCart(api, tc.cluster.adminToken);
    const client = clientTraceparent();
    await checkout(api, token, client.header);

    const inTrace = (): ReceivedSpan[] => receiver.spans.filter((s) => s.traceId === client.traceId);
    const required = ['gateway', 'cart', 'order', 'inventory', 'payment'];
    const spans = await until('the checkout trace from every service, with the order.confirmed consumer', () => {
      const now = inTrace();
      const services = new Set(now.map((s) => s.service));
      const consumed = now.some((s) => s.kind === KIND.CONSUMER && s.name === 'process order.confirmed');
      return required.every((name) => services.has(name)) && consumed ? now : undefined;
    });

    // The gateway continued the caller's trace: its server span is the child of the client's span.
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const gatewayServer = spans.find((s) => s.service === 'gateway' && s.kind === KIND.SERVER && s.name === 'POST /api/v1/checkout');
    expect(gatewayServer?.parentSpanId).toBe(client.spanId);
    // Every other server span is the child of a client span of another process in the same trace.
    const servers = spans.filter((s) => s.kind === KIND.SERVER && s !== gatewayServer);
    expect(servers.map((s) => s.service)).toEqual(expect.arrayContaining(['cart', 'order', 'inventory', 'payment']));
    for (const server of servers) {
      const parent = byId.get(server.parentSpanId ?? '');
      expect(parent?.kind, `parent of ${server.service} ${server.name}`).toBe(KIND.CLIENT);
      expect(parent?.service).not.toBe(server.service);
      expect(attribute(parent?.attributes, 'peer.service')).toBe(server.service);
    }
    // PostgreSQL statements in the services that own data, with no parameters recorded.
    const statements = spans.filter((s) => attribute(s.attributes, 'db.system.name') === 'postgresql');
    expect(statements.map((s) => s.service)).toEqual(expect.arrayContaining(['order', 'inventory', 'payment']));
    for (const statement of statements) expect(attribute(statement.attributes, 'db.operation.name')).toMatch(/^[A-Z]+$/);
    // The saga's steps, and the fact's path: published by the order's relay, processed by inventory.
    expect(spans.some((s) => s.service === 'order' && s.name === 'saga checkout')).toBe(true);
    const published = spans.find((s) => s.kind === KIND.PRODUCER && s.name === 'publish order.confirmed');
    const consumed = spans.find((s) => s.kind === KIND.CONSUMER && s.name === 'process order.confirmed');
    expect(published?.service).toBe('order');
    expect(consumed?.parentSpanId).toBe(published?.spanId);
  });
});

describe.runIf((await postgresBackend.available()) && (await natsAvailable()))('traces in one process (agora start)', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: TracingHandle;
  let system: RunningSystem;

  beforeAll(async () => {
    tracing = startTracing({ service: 'agora', instanceId: 'tracing-test', exporter });
    system = await startSystem(postgresBackend, { nats: true });
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
    await tracing?.shutdown();
  }, 60_000);

  it('the spans of a checkout nest into one trace: gateway, services through in-process ports, SQL, the consumer', async () => {
    const api = new Api(system.baseUrl);
    const login = await api.post<{ token: string }>('/api/v1/auth/login', ADMIN);
    expect(login.status, login.text).toBe(200);
    const token = await shopperWithCart(api, login.body.token);
    const client = clientTraceparent();
    await checkout(api, token, client.header);

    const spans = await until('the in-process checkout trace with its consumer', () => {
      void tracing.flush();
      const now: ReadableSpan[] = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === client.traceId);
      return now.some((s) => s.name === 'process order.confirmed') ? now : undefined;
    });
    const ids = new Set(spans.map((s) => s.spanContext().spanId));
    // Every span's parent is in the trace, but for the gateway's server span whose parent is the caller's.
    for (const span of spans) {
      const parent = span.parentSpanContext?.spanId;
      expect(parent === client.spanId || (parent !== undefined && ids.has(parent)), `${span.name} nests in the trace`).toBe(true);
    }
    const names = spans.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['POST /api/v1/checkout', 'saga checkout', 'inventory.reserve', 'payment.authorize', 'publish order.confirmed', 'process order.confirmed']));
    const services = new Set(spans.map((s) => s.attributes['agora.service']).filter((s) => s !== undefined));
    expect([...services]).toEqual(expect.arrayContaining(['gateway', 'order', 'inventory', 'payment']));
    expect(spans.some((s) => s.attributes['db.system.name'] === 'postgresql')).toBe(true);
  });

  it('a log line written inside a span carries its trace and span id; outside, none', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = createLogger('tracing-test', 'info', sink);
    let ids: { traceId: string; spanId: string } | undefined;
    await inSpan('log inside', {}, async (span) => {
      ids = span ? { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId } : undefined;
      logger.info('inside a span');
    });
    logger.info('outside any span');
    const [inside, outside] = lines.map((line) => JSON.parse(line) as { msg: string; trace_id?: string; span_id?: string });
    expect(ids).toBeDefined();
    expect(inside).toMatchObject({ msg: 'inside a span', trace_id: ids?.traceId, span_id: ids?.spanId });
    expect(outside?.msg).toBe('outside any span');
    expect(outside?.trace_id).toBeUndefined();
  });
});
