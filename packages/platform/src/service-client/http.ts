import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { isBulkheadRejectedError } from 'cockatiel';
import { AppError, ConfigError, EnvReader, newId, type Env } from '@agora/kernel';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { BreakerState } from '../resilience/breaker.js';
import { resolveResilienceSettings, type ResilienceSettings } from '../resilience/config.js';
import type { BalancerFactory, EndpointBalancer, EndpointSource, ServiceEndpoint } from '../resilience/endpoints.js';
import { outcomeOfStatus, serviceCallMetrics, type ServiceCallOutcome, type ServiceCallMetrics } from '../resilience/metrics.js';
import { ResiliencePolicy, isLoadShed } from '../resilience/policy.js';
import type { ServiceRequest, ServiceResponse, ServiceTransport } from './transport.js';

/** Connection pooling towards one instance (one undici Pool per origin). */
export interface HttpPoolSettings {
  /** Connections at most per instance. */
  connections: number;
  /** Time to establish a connection; a connect timeout means nothing was sent, so any call may go elsewhere. */
  connectTimeoutMs: number;
  /** Idle keep-alive connections are closed after this (servers' keep-alive hints may shorten it). */
  keepAliveTimeoutMs: number;
}

export const HTTP_POOL_DEFAULTS: Readonly<HttpPoolSettings> = Object.freeze({
  connections: 64,
  connectTimeoutMs: 1_000,
  keepAliveTimeoutMs: 4_000,
});

export const HTTP_POOL_ENV: Readonly<Record<keyof HttpPoolSettings, string>> = Object.freeze({
  connections: 'AGORA_POOL_CONNECTIONS',
  connectTimeoutMs: 'AGORA_CONNECT_TIMEOUT_MS',
  keepAliveTimeoutMs: 'AGORA_POOL_KEEPALIVE_MS',
});

const POOL_BOUNDS: Readonly<Record<keyof HttpPoolSettings, { min: number; max: number }>> = {
  connections: { min: 1, max: 10_000 },
  connectTimeoutMs: { min: 1, max: 600_000 },
  keepAliveTimeoutMs: { min: 1, max: 600_000 },
};

const POOL_KEYS = Object.keys(HTTP_POOL_DEFAULTS) as (keyof HttpPoolSettings)[];

export function httpPoolSettingsFromEnv(env: Env = process.env): HttpPoolSettings {
  return new EnvReader(env).ints(HTTP_POOL_ENV, HTTP_POOL_DEFAULTS, POOL_BOUNDS);
}

function resolvePoolSettings(overrides: Partial<HttpPoolSettings>): HttpPoolSettings {
  const settings: HttpPoolSettings = { ...HTTP_POOL_DEFAULTS };
  for (const key of POOL_KEYS) {
    const value = overrides[key];
    if (value === undefined) continue;
    const { min, max } = POOL_BOUNDS[key];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(`pool.${key}`, `must be an integer in ${min}..${max}, got ${String(value)}`);
    }
    settings[key] = value;
  }
  return settings;
}

export interface HttpTransportOptions {
  /** Instances per service (discovery). */
  endpoints: EndpointSource;
  /** Balancer per service (balancing, health tracking). */
  balancers: BalancerFactory;
  /** Resilience of every service (e.g. `resilienceSettingsFromEnv()`); defaults otherwise. */
  resilience?: Partial<ResilienceSettings>;
  /** Per-service overrides on top of `resilience`. */
  services?: Record<string, Partial<ResilienceSettings>>;
  /** Connection pooling (e.g. `httpPoolSettingsFromEnv()`). */
  pool?: Partial<HttpPoolSettings>;
  metrics?: Metrics;
  logger?: Logger;
  /** Affinity key handed to the balancer's pick (consistent-hash balancing), per request. */
  affinityKey?: (service: string, request: ServiceRequest) => string | undefined;
}

/** Headers that describe one connection or are computed by the client; a caller's copy is dropped. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  'content-length',
  'expect',
]);

interface PreparedRequest {
  readonly method: ServiceRequest['method'];
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly payload: string | undefined;
}

interface Target {
  readonly origin: string;
  /** Path prefix of the endpoint URL, without a trailing slash ('' for none). */
  readonly prefix: string;
}

function prepare(request: ServiceRequest): PreparedRequest {
  const payload = request.rawBody ?? (request.body === undefined ? undefined : JSON.stringify(request.body));
  const headers: Record<string, string> = {};
  if (payload !== undefined) headers['content-type'] = 'application/json';
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    const lower = name.toLowerCase();
    if (!HOP_BY_HOP.has(lower)) headers[lower] = value;
  }
  // One id for every attempt, so the retries of a call show up together in the callees' logs.
  headers['x-request-id'] ??= newId();
  const path = request.path.startsWith('/') ? request.path : `/${request.path}`;
  return { method: request.method, path, headers, payload };
}

/**
 * ServiceTransport over HTTP for the cluster: discovery gives the instances of a service, the
 * balancer picks one, the service's ResiliencePolicy adds timeouts, retries (idempotent calls only,
 * on another instance), per-instance circuit breakers and a bulkhead; undici pools (one per instance
 * origin, keep-alive, bounded connections) carry the requests.
 *
 * Answers come back exactly as from InProcessTransport, a 4xx/5xx problem included; only a call that
 * got no answer throws, as AppError UNAVAILABLE naming the service.
 */
export class HttpTransport implements ServiceTransport {
  private readonly source: EndpointSource;
  private readonly balancerFactory: BalancerFactory;
  private readonly baseSettings: ResilienceSettings;
  private readonly serviceSettings: Record<string, ResilienceSettings> = {};
  private readonly poolSettings: HttpPoolSettings;
  private readonly metrics: Metrics | undefined;
  private readonly callMetrics: ServiceCallMetrics | undefined;
  private readonly logger: Logger | undefined;
  private readonly affinityKey: HttpTransportOptions['affinityKey'];

  private readonly policies = new Map<string, ResiliencePolicy>();
  private readonly balancers = new Map<string, EndpointBalancer>();
  private readonly pools = new Map<string, Pool>();
  private readonly targets = new Map<string, Target>();
  /** The list each service's endpoints were last synced from, and the origins it had. */
  private readonly lastLists = new Map<string, { list: readonly ServiceEndpoint[]; origins: ReadonlySet<string> }>();
  private readonly closing = new Set<Promise<void>>();
  private readonly closeErrors: unknown[] = [];
  private closed = false;

  constructor(options: HttpTransportOptions) {
    this.source = options.endpoints;
    this.balancerFactory = options.balancers;
    this.baseSettings = resolveResilienceSettings(options.resilience);
    for (const [service, overrides] of Object.entries(options.services ?? {})) {
      this.serviceSettings[service] = resolveResilienceSettings(overrides, this.baseSettings);
    }
    this.poolSettings = resolvePoolSettings(options.pool ?? {});
    this.metrics = options.metrics;
    this.callMetrics = options.metrics ? serviceCallMetrics(options.metrics) : undefined;
    this.logger = options.logger;
    this.affinityKey = options.affinityKey;
  }

  async request(service: string, request: ServiceRequest): Promise<ServiceResponse> {
    if (this.closed) throw new AppError('UNAVAILABLE', `the service client is closed; cannot call ${service}`);
    const started = performance.now();
    const policy = this.policyFor(service);
    const balancer = this.balancerFor(service);
    const key = this.affinityKey?.(service, request);
    const pickOptions = key === undefined ? {} : { key };
    const prepared = prepare(request);
    let outcome: ServiceCallOutcome = 'unavailable';
    try {
      const response = await policy.execute<ServiceResponse>({
        idempotent: request.method === 'GET' || request.idempotent === true,
        read: request.method === 'GET',
        endpoints: () => this.currentEndpoints(service),
        pick: (candidates) => balancer.pick(candidates, pickOptions),
        send: (endpoint, signal) => this.send(service, balancer, endpoint, prepared, signal),
      });
      outcome = outcomeOfStatus(response.status);
      return response;
    } catch (error) {
      if (error instanceof AppError && isBulkheadRejectedError(error.cause)) outcome = 'rejected';
      throw error;
    } finally {
      this.callMetrics?.duration.observe({ service, outcome }, (performance.now() - started) / 1000);
    }
  }

  /** The circuit breaker of every instance called so far, for the admin page. */
  breakerStates(): BreakerState[] {
    return [...this.policies.values()].flatMap((policy) => policy.breakerStates());
  }

  /** The resilience policy of a service (created on first use). */
  policyFor(service: string): ResiliencePolicy {
    let policy = this.policies.get(service);
    if (!policy) {
      policy = new ResiliencePolicy(service, this.serviceSettings[service] ?? this.baseSettings, {
        ...(this.metrics ? { metrics: this.metrics } : {}),
        ...(this.logger ? { logger: this.logger } : {}),
      });
      this.policies.set(service, policy);
    }
    return policy;
  }

  /** Origins with an open connection pool. */
  poolOrigins(): string[] {
    return [...this.pools.keys()];
  }

  /** Refuses new calls, lets calls in flight finish, closes every pool. */
  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all([...pools.map((pool) => pool.close()), ...this.closing]);
    if (this.closeErrors.length > 0) throw new AggregateError(this.closeErrors, 'closing connection pools failed');
  }

  private balancerFor(service: string): EndpointBalancer {
    let balancer = this.balancers.get(service);
    if (!balancer) {
      balancer = this.balancerFactory.forService(service);
      this.balancers.set(service, balancer);
    }
    return balancer;
  }

  private currentEndpoints(service: string): readonly ServiceEndpoint[] {
    const list = this.source.endpoints(service);
    if (this.lastLists.get(service)?.list !== list) this.sync(service, list);
    return list;
  }

  /** A new list for a service: forget the breakers of instances that left and close their pools. */
  private sync(service: string, list: readonly ServiceEndpoint[]): void {
    const origins = new Set<string>();
    for (const endpoint of list) {
      const target = this.targetOf(service, endpoint);
      if (target) origins.add(target.origin);
    }
    const previous = this.lastLists.get(service);
    this.lastLists.set(service, { list, origins });
    this.policies.get(service)?.retain(new Set(list.map((endpoint) => endpoint.id)));
    if (!previous) return;
    for (const origin of previous.origins) {
      if (origins.has(origin) || this.originInUse(origin)) continue;
      this.closePool(origin);
    }
  }

  private originInUse(origin: string): boolean {
    for (const { origins } of this.lastLists.values()) if (origins.has(origin)) return true;
    return false;
  }

  private closePool(origin: string): void {
    const pool = this.pools.get(origin);
    if (!pool) return;
    this.pools.delete(origin);
    for (const [url, target] of this.targets) if (target.origin === origin) this.targets.delete(url);
    // close() lets requests in flight on it finish.
    const closing: Promise<void> = pool.close().then(
      () => {
        this.closing.delete(closing);
      },
      (error: unknown) => {
        this.closing.delete(closing);
        this.closeErrors.push(error);
        this.logger?.warn({ err: error, origin }, 'closing the connection pool of a departed instance failed');
      },
    );
    this.closing.add(closing);
  }

  private targetOf(service: string, endpoint: ServiceEndpoint): Target | undefined {
    const known = this.targets.get(endpoint.url);
    if (known) return known;
    let url: URL;
    try {
      url = new URL(endpoint.url);
    } catch (error) {
      this.logger?.warn({ err: error, service, instance: endpoint.id, url: endpoint.url }, 'instance has an invalid URL');
      return undefined;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      this.logger?.warn({ service, instance: endpoint.id, url: endpoint.url }, 'instance URL is not http(s)');
      return undefined;
    }
    const target: Target = { origin: url.origin, prefix: url.pathname.replace(/\/+$/, '') };
    this.targets.set(endpoint.url, target);
    return target;
  }

  private poolFor(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.poolSettings.connections,
        pipelining: 1,
        keepAliveTimeout: this.poolSettings.keepAliveTimeoutMs,
        connect: { timeout: this.poolSettings.connectTimeoutMs },
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  private async send(
    service: string,
    balancer: EndpointBalancer,
    endpoint: ServiceEndpoint,
    prepared: PreparedRequest,
    signal: AbortSignal,
  ): Promise<ServiceResponse> {
    if (this.closed) throw new AppError('UNAVAILABLE', `the service client is closed; cannot call ${service}`);
    const target = this.targetOf(service, endpoint);
    if (!target) throw new AppError('UNAVAILABLE', `instance ${endpoint.id} of ${service} has an unusable URL: ${endpoint.url}`);
    const pool = this.poolFor(target.origin);
    balancer.onStart(endpoint);
    const started = performance.now();
    let ok = false;
    try {
      const response = await pool.request({
        method: prepared.method,
        path: target.prefix + prepared.path,
        headers: prepared.headers,
        body: prepared.payload ?? null,
        signal,
      });
      const text = await response.body.text();
      const headers: Record<string, string | string[] | undefined> = { ...response.headers };
      const type = String(headers['content-type'] ?? '');
      const body: unknown = type.includes('json') && text.length > 0 ? parseJson(text, service, endpoint) : text;
      ok = response.statusCode < 500 || isLoadShed({ status: response.statusCode, headers });
      return { status: response.statusCode, headers, body };
    } finally {
      balancer.onEnd(endpoint, { ok, latencyMs: performance.now() - started });
    }
  }
}

function parseJson(text: string, service: string, endpoint: ServiceEndpoint): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AppError('UNAVAILABLE', `${service} at ${endpoint.url} answered malformed JSON`, { cause: error });
  }
}
