import type { CatalogPort, InventoryPort } from '@agora/contracts';
import { problemOf, EnvReader, type ErrorCode } from '@agora/kernel';
import { Metrics, TokenService, createLogger } from '@agora/platform';
import type { HttpMethod, HttpApp, ReadinessCheck, ServiceRequest, ServiceResponse, ServiceTransport } from '@agora/platform';
import { createGateway, loadGatewayConfig, type GatewayConfig, type GatewayOptions } from '../src/index.js';

export type FakeHandler = (request: ServiceRequest) => ServiceResponse | Promise<ServiceResponse>;

export interface RecordedCall {
  service: string;
  request: ServiceRequest;
}

interface FakeRoute {
  service: string;
  method: HttpMethod;
  path: string | RegExp;
  handler: FakeHandler;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): ServiceResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body };
}

export function problem(code: ErrorCode, detail: string, headers: Record<string, string> = {}): ServiceResponse {
  const body = problemOf(code, detail);
  return { status: body.status, headers: { 'content-type': 'application/problem+json', ...headers }, body };
}

/**
 * A ServiceTransport double: records every request and answers from canned routes, like a
 * service would (an unknown route is a NOT_FOUND problem). `down` makes a service throw, as a
 * transport does when nothing answers.
 */
export class FakeTransport implements ServiceTransport {
  readonly calls: RecordedCall[] = [];
  private readonly routes: FakeRoute[] = [];
  private readonly downServices = new Set<string>();

  on(service: string, method: HttpMethod, path: string | RegExp, answer: ServiceResponse | FakeHandler): this {
    const handler: FakeHandler = typeof answer === 'function' ? answer : () => answer;
    this.routes.unshift({ service, method, path, handler });
    return this;
  }

  down(service: string): this {
    this.downServices.add(service);
    return this;
  }

  callsTo(service: string): ServiceRequest[] {
    return this.calls.filter((c) => c.service === service).map((c) => c.request);
  }

  async request(service: string, request: ServiceRequest): Promise<ServiceResponse> {
    this.calls.push({ service, request });
    if (this.downServices.has(service)) throw new Error(`connect ECONNREFUSED (${service})`);
    const pathOnly = request.path.split('?')[0] ?? request.path;
    const route = this.routes.find(
      (r) => r.service === service && r.method === request.method && (typeof r.path === 'string' ? r.path === pathOnly : r.path.test(pathOnly)),
    );
    if (!route) return problem('NOT_FOUND', `No route for ${request.method} ${pathOnly}`);
    return route.handler(request);
  }
}

export const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long!';
export const CUSTOMER_ID = '01900000-0000-7000-8000-000000000001';
export const ADMIN_ID = '01900000-0000-7000-8000-000000000002';

export interface TestGateway {
  app: HttpApp;
  transport: FakeTransport;
  tokens: TokenService;
  metrics: Metrics;
  customerToken: string;
  adminToken: string;
}

export interface TestGatewayOptions {
  env?: Record<string, string>;
  config?: Partial<GatewayConfig>;
  readiness?: ReadinessCheck[];
  isDraining?: () => boolean;
  web?: GatewayOptions['web'];
  transport?: FakeTransport;
  rateLimitStore?: GatewayOptions['rateLimitStore'];
  /** The catalog's port as `agora start` gives it (storefront reads in process). */
  catalog?: CatalogPort;
  /** The inventory's port as `agora start` gives it (flash-sale purchases in process). */
  inventory?: InventoryPort;
}

export async function buildGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const transport = options.transport ?? new FakeTransport();
  const tokens = new TokenService(SECRET);
  const metrics = new Metrics(false);
  const config = { ...loadGatewayConfig(new EnvReader({ AGORA_RATE_LIMITS: 'off', ...options.env })), ...options.config };
  const app = await createGateway({
    transport,
    tokens,
    logger: createLogger('gateway-test', 'silent'),
    metrics,
    config,
    readiness: () => options.readiness ?? [],
    ...(options.isDraining ? { isDraining: options.isDraining } : {}),
    ...(options.web ? { web: options.web } : {}),
    ...(options.rateLimitStore ? { rateLimitStore: options.rateLimitStore } : {}),
    ...(options.catalog ? { catalog: options.catalog } : {}),
    ...(options.inventory ? { inventory: options.inventory } : {}),
  });
  const customerToken = await tokens.sign({ sub: CUSTOMER_ID, role: 'customer', email: 'ann@example.com' });
  const adminToken = await tokens.sign({ sub: ADMIN_ID, role: 'admin', email: 'root@example.com' });
  return { app, transport, tokens, metrics, customerToken, adminToken };
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
