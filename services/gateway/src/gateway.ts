import type { CartPort, CatalogPort, InventoryPort, OrderPort } from '@agora/contracts';
import { createHttpApp, registerOperationalRoutes } from '@agora/platform';
import type { HttpApp, Logger, Metrics, ReadinessCheck, ServiceTransport, TokenService } from '@agora/platform';
import { installAuth } from './auth.js';
import { AvailabilityEnricher } from './availability.js';
import type { GatewayConfig } from './config.js';
import { registerOpenApi } from './openapi.js';
import { registerRateLimits, type SharedRateLimitStore } from './rate-limit.js';
import { SharedProblemSchema } from './schemas.js';
import { ROUTE_AREAS, type RouteContext, type WebAppMount } from './routes/index.js';
import { mountWebApp } from './routes/web.js';
import { registerClusterRoute, registerShardsRoute, type ClusterViewSource, type ShardOverviewSource } from './routes/cluster.js';
import { registerPrometheusTargets } from './routes/prometheus-targets.js';
import { Upstream } from './upstream.js';

export const GATEWAY_NAME = 'gateway';
const API_VERSION = '0.1.0';

export interface GatewayOptions {
  /** The only way to the services (in-process today, HTTP with balancing in the cluster). */
  transport: ServiceTransport;
  /** Verifies bearer tokens locally; the gateway never asks identity. */
  tokens: TokenService;
  logger: Logger;
  metrics: Metrics;
  config: GatewayConfig;
  /** Checks behind `/health/ready`, chosen by the composition root. */
  readiness: () => ReadinessCheck[];
  /** True once shutdown began: `/health/ready` answers 503 so balancers stop sending. */
  isDraining?: () => boolean;
  /** Serves the web app at `/`: `{ root }` of the built apps/web, or a mount function; after every API route. */
  web?: WebAppMount;
  /** The topology behind `/api/v1/admin/cluster` (instances, breakers, shards). */
  cluster?: ClusterViewSource;
  /** The shard maps, shard contents and moves behind `/api/v1/admin/shards`. */
  shards?: ShardOverviewSource;
  /** Rate-limit counters in Redis, shared by all gateways of a cluster. */
  rateLimitStore?: SharedRateLimitStore;
  /** The catalog's port when it runs in this process: storefront reads skip the transport. */
  catalog?: CatalogPort;
  /** The inventory's port when it runs in this process: flash-sale purchases skip the transport. */
  inventory?: InventoryPort;
  /** The cart's port when it runs in this process: adds to cart skip the transport. */
  cart?: CartPort;
  /** The order's port when it runs in this process: checkouts skip the transport (its admission gate still applies). */
  order?: OrderPort;
}

/**
 * The edge: one Fastify app (createHttpApp: request ids, problem+json, 1 MiB body limit) with
 * local token checks, rate limits, the OpenAPI document and the public routes, each relayed to
 * a service through the transport. Stateless: any number of gateways can run side by side.
 * The app is returned unstarted (not listening, not `ready`), so the runner decides.
 */
export async function createGateway(options: GatewayOptions): Promise<HttpApp> {
  const { config, logger, metrics } = options;
  const app = createHttpApp({ name: GATEWAY_NAME, logger, metrics, trustProxy: config.trustProxy });

  // Bodies are relayed as the services wrote them; response schemas exist for validation at the
  // services and for the OpenAPI document, not to re-serialize (which would drop fields services
  // add and turn a missing one into a 500).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addSchema(SharedProblemSchema);
  // The API speaks JSON only (docs/api.md#base-path-formats): a text body is a 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain');

  // Order matters: hooks first, then the plugins that watch route declarations, then routes.
  installAuth(app, options.tokens);
  await registerRateLimits(app, config.rateLimits, metrics, options.rateLimitStore);
  await registerOpenApi(app, API_VERSION);

  registerOperationalRoutes(app, options.readiness, metrics, options.isDraining);

  const upstream = new Upstream(options.transport, config.serviceTimeoutMs);
  const context: RouteContext = {
    upstream,
    availability: new AvailabilityEnricher(upstream, metrics),
    config,
    ...(options.catalog ? { catalog: options.catalog } : {}),
    ...(options.inventory ? { inventory: options.inventory } : {}),
    ...(options.cart ? { cart: options.cart } : {}),
    ...(options.order ? { order: options.order } : {}),
  };
  for (const area of ROUTE_AREAS) area(app, context);
  if (options.shards) registerShardsRoute(app, options.shards);
  if (options.cluster) {
    registerClusterRoute(app, options.cluster);
    registerPrometheusTargets(app, options.cluster);
  }

  if (options.web) await mountWebApp(app, options.web);
  return app;
}
