export { createGateway, GATEWAY_NAME, type GatewayOptions } from './gateway.js';
export { loadGatewayConfig, GATEWAY_DEFAULTS, type GatewayConfig, type RateLimitConfig } from './config.js';
export { callerOf, ADMIN_PREFIX, type Access } from './auth.js';
export { DEGRADED_HEADER } from './availability.js';
export { OPENAPI_JSON_PATH, DOCS_PREFIX } from './openapi.js';
export { SERVICES, type ServiceName } from './upstream.js';
export { ROUTE_AREAS, type RouteArea, type RouteContext, type WebAppMount } from './routes/index.js';
export type { ClusterViewSource } from './routes/cluster.js';
export { PROMETHEUS_TARGETS_PATH, prometheusTargets, type PrometheusTargetGroup } from './routes/prometheus-targets.js';
