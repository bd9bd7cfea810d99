import { LIMITS, type EnvReader } from '@agora/kernel';

export interface RateLimitConfig {
  /** `AGORA_RATE_LIMITS=off` turns every limit off (load tests from one loopback address). */
  enabled: boolean;
  /** Requests per minute per user (valid bearer token) or else per client IP, on every API route. */
  perMinute: number;
  /** Requests per minute per client IP on login and register: the routes password guessing aims at. */
  authPerMinute: number;
  /**
   * Flash-sale purchases one gateway process passes on per second, whoever sends them: a stampede
   * beyond this is refused at the edge (429 RATE_LIMITED, Retry-After 1) before it costs a service
   * call, so the rest of the shop keeps its share of the process. Set it so that the sum over the
   * gateways stays under what the sale's Redis answers.
   */
  flashSalePurchasesPerSecond: number;
}

export interface GatewayConfig {
  rateLimits: RateLimitConfig;
  /** Behind nginx, take the client address from X-Forwarded-For (it feeds the per-IP limits). */
  trustProxy: boolean;
  /**
   * Outer bound on one call to a service. The transport's own timeout (and retries, in the
   * cluster) normally answer first; this keeps a hung service from holding a request forever.
   */
  serviceTimeoutMs: number;
}

export const GATEWAY_DEFAULTS: GatewayConfig = {
  rateLimits: { enabled: true, perMinute: 600, authPerMinute: 20, flashSalePurchasesPerSecond: 5_000 },
  trustProxy: false,
  serviceTimeoutMs: 2 * LIMITS.serviceCallTimeoutMs,
};

const MAX_PER_MINUTE = 1_000_000;

/** Reads the gateway's settings from the environment; a bad value throws a ConfigError naming it. */
export function loadGatewayConfig(env: EnvReader): GatewayConfig {
  const defaults = GATEWAY_DEFAULTS;
  return {
    rateLimits: {
      enabled: env.bool('AGORA_RATE_LIMITS', defaults.rateLimits.enabled),
      perMinute: env.int('AGORA_RATE_LIMIT_PER_MINUTE', defaults.rateLimits.perMinute, { min: 1, max: MAX_PER_MINUTE }),
      authPerMinute: env.int('AGORA_AUTH_RATE_LIMIT_PER_MINUTE', defaults.rateLimits.authPerMinute, { min: 1, max: MAX_PER_MINUTE }),
      flashSalePurchasesPerSecond: env.int('AGORA_FLASH_SALE_PURCHASES_PER_SECOND', defaults.rateLimits.flashSalePurchasesPerSecond, { min: 1, max: MAX_PER_MINUTE }),
    },
    trustProxy: env.bool('AGORA_TRUST_PROXY', defaults.trustProxy),
    serviceTimeoutMs: env.int('AGORA_GATEWAY_TIMEOUT_MS', defaults.serviceTimeoutMs, { min: 100, max: 120_000 }),
  };
}
