export { createGateway, type GatewayOptions } from './gateway.js';
export { loadGatewayConfig, GATEWAY_DEFAULTS, type GatewayConfig } from './config.js';
export { DEGRADED_HEADER } from './availability.js';
export { OPENAPI_JSON_PATH } from './openapi.js';
