import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, problemOf } from '@agora/kernel';
import {
  createHttpApp,
  createLogger,
  sendProblem,
  type EndpointAttemptOutcome,
  type BalancerFactory,
  type EndpointBalancer,
  type HttpApp,
  type EndpointPickOptions,
  type ServiceEndpoint,
} from '../src/index.js';

/**
 * How an instance treats GET /who and POST /orders:
 * ok answers; destroy kills the socket after the handler ran (the request reached the server);
 * slow holds the answer until release(); unavailable answers 503 problem+json.
 */
/** `unavailable`: 503 with Retry-After (a shed: busy, not sick); `sick`: 503 without it. */
export type InstanceMode = 'ok' | 'destroy' | 'slow' | 'unavailable' | 'sick';

export const WEBHOOK_SECRET = 'whsec_test_only';

export function sign(payload: string | Buffer): string {
  return createHmac('sha256', WEBHOOK_SECRET).update(payload).digest('hex');
}

export interface TestInstance {
  readonly name: string;
  readonly url: string;
  readonly endpoint: ServiceEndpoint;
  mode: InstanceMode;
  /** Handler runs per "METHOD /path". */
  hits(route: string): number;
  /** x-request-id of every request the instance received, in order. */
  readonly requestIds: string[];
  /** Header values of `x-probe` seen. */
  readonly probeHeaders: string[];
  /** Lets held (slow) requests answer. */
  release(): void;
  stop(): Promise<void>;
}

export async function startInstance(name: string): Promise<TestInstance> {
  const app: HttpApp = createHttpApp({ name, logger: createLogger(name, 'silent') });
  const counts = new Map<string, number>();
  const requestIds: string[] = [];
  const probeHeaders: string[] = [];
  let releaseHeld: () => void = () => undefined;
  let held = new Promise<void>((resolve) => (releaseHeld = resolve));

  const instance: TestInstance = {
    name,
    url: '',
    endpoint: { id: name, url: '' },
    mode: 'ok',
    hits: (route) => counts.get(route) ?? 0,
    requestIds,
    probeHeaders,
    release: () => {
      releaseHeld();
      held = new Promise<void>((resolve) => (releaseHeld = resolve));
    },
    stop: async () => {
      releaseHeld();
      await app.close();
    },
  };

  app.addHook('onRequest', async (request) => {
    requestIds.push(request.id);
    const probe = request.headers['x-probe'];
    if (typeof probe === 'string') probeHeaders.push(probe);
  });

  const behave = (route: string, answer: () => unknown) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      counts.set(route, (counts.get(route) ?? 0) + 1);
      switch (instance.mode) {
        case 'destroy':
          reply.hijack();
          request.raw.socket.destroy();
          return reply;
        case 'slow':
          await held;
          return reply.code(route.startsWith('POST') ? 201 : 200).send(answer());
        case 'unavailable':
          return sendProblem(reply, problemOf('UNAVAILABLE', `${name} is overloaded`), 1);
        case 'sick':
          return sendProblem(reply, problemOf('UNAVAILABLE', `${name} is failing`));
        case 'ok':
          return reply.code(route.startsWith('POST') ? 201 : 200).send(answer());
      }
    };

  app.get('/who', behave('GET /who', () => ({ instance: name })));
  app.post('/orders', behave('POST /orders', () => ({ instance: name, id: `order-${name}` })));
  app.get('/problem', async () => {
    counts.set('GET /problem', (counts.get('GET /problem') ?? 0) + 1);
    throw new AppError('OUT_OF_STOCK', 'sku-1 is out of stock', { extras: { sku: 'sku-1' } });
  });
  // The raw bytes, as a signed-webhook receiver sees them: no JSON parsing in this scope.
  await app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    scope.post('/webhook', async (request) => {
      counts.set('POST /webhook', (counts.get('POST /webhook') ?? 0) + 1);
      const raw = request.body as Buffer;
      const sent = Buffer.from(String(request.headers['x-signature'] ?? ''), 'hex');
      const expected = Buffer.from(sign(raw), 'hex');
      const valid = sent.length === expected.length && timingSafeEqual(sent, expected);
      return { valid, bytes: raw.length, hex: raw.toString('hex') };
    });
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  Object.assign(instance, { url, endpoint: { id: name, url } });
  return instance;
}

/** A URL nothing listens on: connections to it are refused before any byte is sent. */
export async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  return `http://127.0.0.1:${port}`;
}

/** Round-robin over the candidates it is given, recording what it saw. */
export class RoundRobinStub implements BalancerFactory {
  readonly candidateLists: string[][] = [];
  readonly picks: string[] = [];
  readonly started: string[] = [];
  readonly ended: { id: string; ok: boolean }[] = [];
  readonly keys: (string | undefined)[] = [];
  private next = 0;

  forService(_service: string): EndpointBalancer {
    return {
      pick: (candidates: readonly ServiceEndpoint[], options?: EndpointPickOptions) => {
        this.candidateLists.push(candidates.map((candidate) => candidate.id));
        this.keys.push(options?.key);
        if (candidates.length === 0) return undefined;
        const picked = candidates[this.next++ % candidates.length];
        if (picked) this.picks.push(picked.id);
        return picked;
      },
      onStart: (endpoint: ServiceEndpoint) => {
        this.started.push(endpoint.id);
      },
      onEnd: (endpoint: ServiceEndpoint, outcome: EndpointAttemptOutcome) => {
        this.ended.push({ id: endpoint.id, ok: outcome.ok });
      },
    };
  }
}
