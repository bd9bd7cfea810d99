import { describe, expect, it, vi } from 'vitest';
import { BrokenCircuitError, TaskCancelledError } from 'cockatiel';
import { AppError, ConfigError } from '@agora/kernel';
import {
  HTTP_POOL_ENV,
  HttpTransport,
  RESILIENCE_DEFAULTS,
  RESILIENCE_ENV,
  ResiliencePolicy,
  StaticEndpointSource,
  classifyFailure,
  httpPoolSettingsFromEnv,
  isRetryableFailure,
  resilienceSettingsFromEnv,
  resolveResilienceSettings,
  watcherEndpointSource,
  type ResilienceSettings,
  type ResilientCall,
  type ServiceEndpoint,
  type StatusAnswer,
  type WatchedInstance,
} from '../src/index.js';
import { RoundRobinStub } from './http-transport-helpers.js';

const ENDPOINTS: ServiceEndpoint[] = [
  { id: 'i1', url: 'http://10.0.0.1:3000' },
  { id: 'i2', url: 'http://10.0.0.2:3000' },
  { id: 'i3', url: 'http://10.0.0.3:3000' },
];
const FAST: Partial<ResilienceSettings> = { retryBaseDelayMs: 0, retryMaxDelayMs: 0 };

function netError(code: string): Error {
  return Object.assign(new Error(`${code} from the test`), { code });
}

type Behaviour = (endpoint: ServiceEndpoint, signal: AbortSignal) => Promise<StatusAnswer>;

/** A call against fake instances: records every attempt's instance; always picks the first candidate. */
function fakeCall(behaviour: Behaviour, options: { idempotent: boolean; read?: boolean; endpoints?: ServiceEndpoint[] }) {
  const attempts: string[] = [];
  const offered: string[][] = [];
  const call: ResilientCall<StatusAnswer> = {
    idempotent: options.idempotent,
    read: options.read ?? options.idempotent,
    endpoints: () => options.endpoints ?? ENDPOINTS,
    pick: (candidates) => {
      offered.push(candidates.map((candidate) => candidate.id));
      return candidates[0];
    },
    send: (endpoint, signal) => {
      attempts.push(endpoint.id);
      return behaviour(endpoint, signal);
    },
  };
  return { call, attempts, offered };
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('resilience settings', () => {
  it('defaults to the named constants', () => {
    expect(resilienceSettingsFromEnv({})).toEqual(RESILIENCE_DEFAULTS);
    expect(RESILIENCE_DEFAULTS).toMatchObject({
      readTimeoutMs: 2_000,
      writeTimeoutMs: 10_000,
      retries: 2,
      breakerFailures: 5,
      breakerHalfOpenAfterMs: 5_000,
      bulkheadConcurrency: 256,
      bulkheadQueue: 512,
    });
  });

  it('reads every setting from its environment variable', () => {
    const env = {
      AGORA_CALL_TIMEOUT_MS: '500',
      AGORA_WRITE_CALL_TIMEOUT_MS: '4000',
      AGORA_RETRIES: '3',
      AGORA_RETRY_BASE_DELAY_MS: '10',
      AGORA_RETRY_MAX_DELAY_MS: '200',
      AGORA_BREAKER_FAILURES: '7',
      AGORA_BREAKER_HALF_OPEN_MS: '1000',
      AGORA_BULKHEAD_CONCURRENCY: '10',
      AGORA_BULKHEAD_QUEUE: '0',
      AGORA_BULKHEAD_RETRY_AFTER_S: '2',
    };
    expect(Object.values(RESILIENCE_ENV).sort()).toEqual(Object.keys(env).sort());
    expect(resilienceSettingsFromEnv(env)).toEqual({
      readTimeoutMs: 500,
      writeTimeoutMs: 4000,
      retries: 3,
      retryBaseDelayMs: 10,
      retryMaxDelayMs: 200,
      breakerFailures: 7,
      breakerHalfOpenAfterMs: 1000,
      bulkheadConcurrency: 10,
      bulkheadQueue: 0,
      bulkheadRetryAfterSeconds: 2,
    });
  });

  it.each([
    ['AGORA_RETRIES', 'lots'],
    ['AGORA_RETRIES', '-1'],
    ['AGORA_CALL_TIMEOUT_MS', '0'],
    ['AGORA_BULKHEAD_CONCURRENCY', '1.5'],
    ['AGORA_BREAKER_FAILURES', '0'],
  ])('refuses %s=%s with a ConfigError naming it', (name, value) => {
    const error = (() => {
      try {
        resilienceSettingsFromEnv({ [name]: value });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
  });

  it('refuses a max backoff below the base backoff', () => {
    expect(() => resilienceSettingsFromEnv({ AGORA_RETRY_BASE_DELAY_MS: '500', AGORA_RETRY_MAX_DELAY_MS: '100' })).toThrow(/AGORA_RETRY_MAX_DELAY_MS/);
  });

  it('validates options too, naming the option', () => {
    expect(resolveResilienceSettings({ retries: 0 }).retries).toBe(0);
    expect(() => resolveResilienceSettings({ retries: -1 })).toThrow(ConfigError);
    expect(() => resolveResilienceSettings({ retries: -1 })).toThrow(/resilience\.retries/);
    expect(() => new HttpTransport({ endpoints: new StaticEndpointSource(), balancers: new RoundRobinStub(), resilience: { readTimeoutMs: 0 } })).toThrow(
      /resilience\.readTimeoutMs/,
    );
    expect(() => new HttpTransport({ endpoints: new StaticEndpointSource(), balancers: new RoundRobinStub(), pool: { connections: 0 } })).toThrow(/pool\.connections/);
  });

  it('reads pool settings from the environment', () => {
    expect(httpPoolSettingsFromEnv({ AGORA_POOL_CONNECTIONS: '8' }).connections).toBe(8);
    expect(() => httpPoolSettingsFromEnv({ [HTTP_POOL_ENV.connectTimeoutMs]: 'soon' })).toThrow(/AGORA_CONNECT_TIMEOUT_MS/);
  });
});

describe('failure classification', () => {
  it('tells failures before sending from failures after', () => {
    expect(classifyFailure(netError('ECONNREFUSED'))).toBe('not-sent');
    expect(classifyFailure(netError('UND_ERR_CONNECT_TIMEOUT'))).toBe('not-sent');
    expect(classifyFailure(new BrokenCircuitError())).toBe('not-sent');
    expect(classifyFailure(netError('UND_ERR_SOCKET'))).toBe('maybe-sent');
    expect(classifyFailure(netError('ECONNRESET'))).toBe('maybe-sent');
    expect(classifyFailure(new Error('wrapped', { cause: netError('ECONNREFUSED') }))).toBe('not-sent');
    expect(classifyFailure(new TaskCancelledError('Operation timed out after 5ms'))).toBe('timeout');
    expect(classifyFailure(new TypeError('a bug'))).toBe('other');
  });

  it('retries only what is safe', () => {
    expect(isRetryableFailure('not-sent', false)).toBe(true);
    expect(isRetryableFailure('maybe-sent', false)).toBe(false);
    expect(isRetryableFailure('timeout', false)).toBe(false);
    expect(isRetryableFailure('maybe-sent', true)).toBe(true);
    expect(isRetryableFailure('timeout', true)).toBe(true);
    expect(isRetryableFailure('other', true)).toBe(false);
  });
});

describe('ResiliencePolicy', () => {
  it('retries an idempotent call on a different instance each time, up to the retry limit', async () => {
    const policy = new ResiliencePolicy('catalog', { ...FAST, retries: 2 });
    const { call, attempts, offered } = fakeCall(async () => Promise.reject(netError('ECONNRESET')), { idempotent: true });
    const error = await failure(policy.execute(call));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/^catalog connection lost at http:\/\/10\.0\.0\.\d:3000/);
    expect(attempts).toEqual(['i1', 'i2', 'i3']);
    expect(offered).toEqual([['i1', 'i2', 'i3'], ['i2', 'i3'], ['i3']]);
  });

  it('retries on the same instance when it is the only one', async () => {
    const policy = new ResiliencePolicy('catalog', { ...FAST, retries: 2 });
    let n = 0;
    const { call, attempts } = fakeCall(async () => (n++ === 0 ? Promise.reject(netError('ECONNRESET')) : { status: 200 }), {
      idempotent: true,
      endpoints: [ENDPOINTS[0] as ServiceEndpoint],
    });
    expect((await policy.execute(call)).status).toBe(200);
    expect(attempts).toEqual(['i1', 'i1']);
  });

  it('sends a non-idempotent call once when it may have reached the server', async () => {
    const policy = new ResiliencePolicy('order', FAST);
    const { call, attempts } = fakeCall(async () => Promise.reject(netError('UND_ERR_SOCKET')), { idempotent: false });
    await failure(policy.execute(call));
    expect(attempts).toEqual(['i1']);
  });

  it('sends a non-idempotent call again when nothing was sent', async () => {
    const policy = new ResiliencePolicy('order', FAST);
    const { call, attempts } = fakeCall(async (endpoint) => (endpoint.id === 'i1' ? Promise.reject(netError('ECONNREFUSED')) : { status: 201 }), {
      idempotent: false,
    });
    expect((await policy.execute(call)).status).toBe(201);
    expect(attempts).toEqual(['i1', 'i2']);
  });

  it('never retries a 4xx, retries 502/503/504 for idempotent calls and returns the last answer', async () => {
    const policy = new ResiliencePolicy('catalog', FAST);
    const notFound = fakeCall(async () => ({ status: 404 }), { idempotent: true });
    expect((await policy.execute(notFound.call)).status).toBe(404);
    expect(notFound.attempts).toHaveLength(1);

    const overloaded = fakeCall(async () => ({ status: 503 }), { idempotent: true });
    expect((await policy.execute(overloaded.call)).status).toBe(503);
    expect(overloaded.attempts).toEqual(['i1', 'i2', 'i3']);

    const write = fakeCall(async () => ({ status: 502 }), { idempotent: false });
    expect((await policy.execute(write.call)).status).toBe(502);
    expect(write.attempts).toHaveLength(1);
  });

  it('aborts an attempt at its timeout (reads and writes have their own)', async () => {
    const policy = new ResiliencePolicy('catalog', { ...FAST, readTimeoutMs: 20, writeTimeoutMs: 30, retries: 1 });
    const aborted: string[] = [];
    const hang: Behaviour = (endpoint, signal) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          aborted.push(endpoint.id);
          reject(netError('UND_ERR_ABORTED'));
        });
      });
    const read = fakeCall(hang, { idempotent: true });
    const error = await failure(policy.execute(read.call));
    expect(error.message).toMatch(/timed out after 20ms/);
    expect(read.attempts).toEqual(['i1', 'i2']);
    await vi.waitFor(() => expect(aborted).toEqual(['i1', 'i2']));

    const write = fakeCall(hang, { idempotent: false, read: false });
    expect((await failure(policy.execute(write.call))).message).toMatch(/timed out after 30ms/);
    expect(write.attempts).toEqual(['i1']);
  });

  it('opens an instance breaker after consecutive failures and stops offering the instance', async () => {
    const policy = new ResiliencePolicy('catalog', { ...FAST, breakerFailures: 3, breakerHalfOpenAfterMs: 60_000, retries: 0 });
    const endpoints = [ENDPOINTS[0] as ServiceEndpoint, ENDPOINTS[1] as ServiceEndpoint];
    const broken: Behaviour = async (endpoint) => (endpoint.id === 'i1' ? Promise.reject(netError('ECONNREFUSED')) : { status: 200 });
    for (let i = 0; i < 3; i++) await failure(policy.execute(fakeCall(broken, { idempotent: false, endpoints }).call));
    expect(policy.breakerStates()).toEqual([
      { service: 'catalog', instanceId: 'i1', url: 'http://10.0.0.1:3000', state: 'open', consecutiveFailures: 3 },
      { service: 'catalog', instanceId: 'i2', url: 'http://10.0.0.2:3000', state: 'closed', consecutiveFailures: 0 },
    ]);
    const after = fakeCall(broken, { idempotent: false, endpoints });
    expect((await policy.execute(after.call)).status).toBe(200);
    expect(after.offered).toEqual([['i2']]);
  });

  it('counts 5xx gateway answers and timeouts against the instance, but not 4xx or bugs', async () => {
    const policy = new ResiliencePolicy('catalog', { ...FAST, breakerFailures: 10, retries: 0 });
    const one = [ENDPOINTS[0] as ServiceEndpoint];
    await policy.execute(fakeCall(async () => ({ status: 504 }), { idempotent: false, endpoints: one }).call);
    await policy.execute(fakeCall(async () => ({ status: 409 }), { idempotent: false, endpoints: one }).call);
    await policy.execute(fakeCall(async () => ({ status: 503 }), { idempotent: false, endpoints: one }).call);
    await failure(policy.execute(fakeCall(async () => Promise.reject(new TypeError('bug')), { idempotent: false, endpoints: one }).call));
    // 504, then the 409 reset the run, then 503; the TypeError does not count.
    expect(policy.breakerStates()[0]?.consecutiveFailures).toBe(1);
  });

  it('rejects beyond concurrency + queue with UNAVAILABLE and Retry-After', async () => {
    const policy = new ResiliencePolicy('catalog', { ...FAST, bulkheadConcurrency: 2, bulkheadQueue: 1, bulkheadRetryAfterSeconds: 3 });
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const held: Behaviour = async () => {
      await gate;
      return { status: 200 };
    };
    const calls = [1, 2, 3].map(() => policy.execute(fakeCall(held, { idempotent: true }).call));
    const refused = await failure(policy.execute(fakeCall(held, { idempotent: true }).call));
    expect(refused.status).toBe(503);
    expect(refused.retryAfterSeconds).toBe(3);
    expect(refused.message).toMatch(/catalog is at capacity/);
    open();
    expect((await Promise.all(calls)).map((answer) => answer.status)).toEqual([200, 200, 200]);
  });

  it('drops the breakers of instances that are gone', async () => {
    const policy = new ResiliencePolicy('catalog', FAST);
    await policy.execute(fakeCall(async () => ({ status: 200 }), { idempotent: true }).call);
    await policy.execute(fakeCall(async () => ({ status: 200 }), { idempotent: true, endpoints: [ENDPOINTS[1] as ServiceEndpoint] }).call);
    expect(policy.breakerStates().map((state) => state.instanceId)).toEqual(['i1', 'i2', 'i3']);
    policy.retain(new Set(['i2']));
    expect(policy.breakerStates().map((state) => state.instanceId)).toEqual(['i2']);
  });
});

describe('watcherEndpointSource', () => {
  it('turns serving instances of a discovery watcher into endpoints, reusing the list while unchanged', () => {
    let instances: WatchedInstance[] = [
      { id: 'x', url: 'http://x:1', weight: 2, zone: 'eu-1', state: 'up' },
      { id: 'y', url: 'http://y:1', state: 'draining' },
    ];
    const source = watcherEndpointSource(
      (service) => (service === 'cart' ? { instances: () => instances } : undefined),
      (state) => state === 'up',
    );
    const first = source.endpoints('cart');
    expect(first).toEqual([{ id: 'x', url: 'http://x:1', weight: 2, zone: 'eu-1' }]);
    expect(source.endpoints('cart')).toBe(first);
    instances = [...instances, { id: 'z', url: 'http://z:1', state: 'up' }];
    expect(source.endpoints('cart').map((endpoint) => endpoint.id)).toEqual(['x', 'z']);
    expect(source.endpoints('unknown')).toEqual([]);
  });
});
