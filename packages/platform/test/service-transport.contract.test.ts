import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { AppError, isProblem } from '@agora/kernel';
import {
  HttpTransport,
  InProcessTransport,
  PROBLEM_CONTENT_TYPE,
  ServiceClient,
  StaticEndpointSource,
  createHttpApp,
  createLogger,
  type HttpApp,
  type ServiceTransport,
} from '../src/index.js';
import { RoundRobinStub } from './http-transport-helpers.js';

const SERVICE = 'tiny';
/** Bytes a JSON.stringify would never produce: extra spaces and key order kept. */
const RAW_BODY = '{ "b" : 1,   "a" : [2, 3] }';

/** One tiny service: what every transport must carry the same way. */
function tinyApp(): HttpApp {
  const app = createHttpApp({ name: SERVICE, logger: createLogger(SERVICE, 'silent') });
  app.post('/echo', { schema: { body: Type.Object({ n: Type.Integer({ minimum: 0 }) }) } }, async (request, reply) =>
    reply.code(201).header('x-tiny', 'yes').send({ body: request.body, probe: request.headers['x-probe'] ?? null }),
  );
  app.get('/query', async (request) => ({ query: request.query }));
  app.get('/text', async (_request, reply) => reply.type('text/plain').send('plain words'));
  app.post('/empty', async (_request, reply) => reply.code(204).send());
  app.post('/short', async () => {
    throw new AppError('OUT_OF_STOCK', 'Not enough stock for a-1', { errors: [{ path: 'lines[0].sku', message: 'short' }], extras: { skus: ['a-1'] } });
  });
  app.post('/busy', async () => {
    throw new AppError('UNAVAILABLE', 'try later', { retryAfterSeconds: 7 });
  });
  app.post('/boom', async () => {
    throw new Error('secret internals');
  });
  app.register(async (scope) => {
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    scope.post('/raw', async (request) => ({ raw: request.body }));
  });
  return app;
}

interface OpenedTransport {
  transport: ServiceTransport;
  release(): Promise<void>;
}

interface TransportAdapter {
  name: string;
  open(app: HttpApp): Promise<OpenedTransport>;
}

const adapters: TransportAdapter[] = [
  {
    name: 'in-process',
    async open(app) {
      const transport = new InProcessTransport();
      transport.register(SERVICE, app);
      return { transport, release: async () => undefined };
    },
  },
  {
    name: 'http',
    async open(app) {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as AddressInfo;
      const transport = new HttpTransport({
        endpoints: new StaticEndpointSource({ [SERVICE]: [{ id: 'tiny-1', url: `http://127.0.0.1:${port}` }] }),
        balancers: new RoundRobinStub(),
      });
      return { transport, release: () => transport.close() };
    },
  },
];

/** The service transport's contract: `agora start` and the cluster must answer callers alike. */
for (const adapter of adapters) {
  describe(`service transport contract on ${adapter.name}`, () => {
    let app: HttpApp;
    let opened: OpenedTransport;
    let transport: ServiceTransport;

    beforeEach(async () => {
      app = tinyApp();
      opened = await adapter.open(app);
      transport = opened.transport;
    });
    afterEach(async () => {
      await opened.release();
      await app.close();
    });

    it('carries a JSON body and request headers there, and status, headers and JSON back', async () => {
      const response = await transport.request(SERVICE, { method: 'POST', path: '/echo', body: { n: 3 }, headers: { 'x-probe': 'p-1', 'x-request-id': 'req-42' } });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({ body: { n: 3 }, probe: 'p-1' });
      expect(response.headers['x-tiny']).toBe('yes');
      expect(response.headers['x-request-id']).toBe('req-42');
      expect(String(response.headers['content-type'])).toContain('application/json');
    });

    it('passes an encoded query string as it is', async () => {
      const response = await transport.request(SERVICE, { method: 'GET', path: `/query?skus=${encodeURIComponent('a,b c')}&n=1` });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ query: { skus: 'a,b c', n: '1' } });
    });

    it('answers text that is not JSON as the raw text', async () => {
      const response = await transport.request(SERVICE, { method: 'GET', path: '/text' });
      expect(response.status).toBe(200);
      expect(response.body).toBe('plain words');
    });

    it('answers an empty body as the empty string', async () => {
      const response = await transport.request(SERVICE, { method: 'POST', path: '/empty' });
      expect(response.status).toBe(204);
      expect(response.body).toBe('');
    });

    it('sends a raw body byte for byte in place of `body`', async () => {
      const response = await transport.request(SERVICE, { method: 'POST', path: '/raw', rawBody: RAW_BODY, body: { ignored: true } });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ raw: RAW_BODY });
    });

    it('answers a problem as a problem+json body with its status, errors and extras', async () => {
      const response = await transport.request(SERVICE, { method: 'POST', path: '/short' });
      expect(response.status).toBe(409);
      expect(String(response.headers['content-type'])).toContain(PROBLEM_CONTENT_TYPE);
      expect(isProblem(response.body)).toBe(true);
      expect(response.body).toMatchObject({ code: 'OUT_OF_STOCK', status: 409, skus: ['a-1'], errors: [{ path: 'lines[0].sku', message: 'short' }] });
    });

    it('answers a schema violation as a 400 VALIDATION_FAILED problem naming the field', async () => {
      const response = await transport.request(SERVICE, { method: 'POST', path: '/echo', body: { n: -1 } });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(JSON.stringify(response.body)).toContain('n');
    });

    it('answers an unknown route as a 404 NOT_FOUND problem', async () => {
      const response = await transport.request(SERVICE, { method: 'GET', path: '/nowhere' });
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ code: 'NOT_FOUND' });
    });

    it('carries retry-after with a 503 problem', async () => {
      const response = await transport.request(SERVICE, { method: 'POST', path: '/busy' });
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('7');
      expect(response.body).toMatchObject({ code: 'UNAVAILABLE' });
    });

    it('answers an unexpected error as a 500 INTERNAL problem that leaks nothing', async () => {
      const response = await transport.request(SERVICE, { method: 'POST', path: '/boom' });
      expect(response.status).toBe(500);
      expect(response.body).toMatchObject({ code: 'INTERNAL' });
      expect(JSON.stringify(response.body)).not.toContain('secret internals');
    });

    it('lets a ServiceClient rebuild the callee AppError with its code and extras', async () => {
      const client = new ServiceClient(SERVICE, transport);
      const error: unknown = await client.call({ method: 'POST', path: '/short' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'OUT_OF_STOCK', extras: { skus: ['a-1'] }, errors: [{ path: 'lines[0].sku', message: 'short' }] });
      await expect(client.call({ method: 'POST', path: '/echo', body: { n: 1 } })).resolves.toEqual({ body: { n: 1 }, probe: null });
    });

    it('fails as UNAVAILABLE for a service it cannot reach', async () => {
      await expect(transport.request('absent', { method: 'GET', path: '/query' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    });
  });
}
