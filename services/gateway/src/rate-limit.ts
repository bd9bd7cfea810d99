import type { FastifyRequest } from 'fastify';
import { fastifyRateLimit, normalizeIP, type RateLimitOptions } from '@fastify/rate-limit';
import { AppError } from '@agora/kernel';
import type { HttpApp, Metrics } from '@agora/platform';
import { callerOf } from './auth.js';
import type { RateLimitConfig } from './config.js';

const WINDOW_MS = 60_000;
/** Distinct clients remembered per limiter (LRU); beyond it the least recent one starts afresh. */
const TRACKED_CLIENTS = 50_000;

function ipKey(request: FastifyRequest): string {
  return `ip:${normalizeIP(request.ip)}`;
}

/** A valid token's user is limited as one client wherever it calls from; anyone else by address. */
function userOrIpKey(request: FastifyRequest): string {
  const caller = callerOf(request);
  return caller ? `user:${caller.userId}` : ipKey(request);
}

function isOperational(request: FastifyRequest): boolean {
  const config: unknown = request.routeOptions.config;
  return typeof config === 'object' && config !== null && 'operational' in config && config.operational === true;
}

function rateLimited(_request: FastifyRequest, context: { ttl: number; after: string }): AppError {
  return new AppError('RATE_LIMITED', `Rate limit exceeded, retry in ${context.after}`, {
    retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
  });
}

/** Counters shared by every gateway of a cluster (an ioredis client); absent = per process. */
export interface SharedRateLimitStore {
  /** An ioredis client (the plugin keeps its counters with a Lua script). */
  redis: object;
}

/** The stricter per-IP limit of login and register (route config; a no-op when limits are off). */
export function authRouteRateLimit(config: RateLimitConfig): RateLimitOptions {
  return { max: config.authPerMinute, timeWindow: WINDOW_MS, keyGenerator: ipKey, cache: TRACKED_CLIENTS };
}

/**
 * Flash-sale purchases a user (or, without a token, an address) may make per minute: enough for a
 * buyer's retries, too few for a script hammering the sale (route config; a no-op when limits are off).
 */
export const FLASH_SALE_PURCHASES_PER_USER_PER_MINUTE = 30;

export function flashSalePurchaseRateLimit(config: RateLimitConfig): RateLimitOptions {
  return { max: Math.min(config.perMinute, FLASH_SALE_PURCHASES_PER_USER_PER_MINUTE), timeWindow: WINDOW_MS, keyGenerator: userOrIpKey, cache: TRACKED_CLIENTS };
}

/**
 * Limits every route (but health and metrics) per user or per client IP; routes with their own
 * `config.rateLimit` (login, register) use that instead. Must be registered before the routes:
 * the plugin attaches its hook as each route is declared. The 429 is a RATE_LIMITED problem
 * with `retry-after`, rendered by createHttpApp's error handler like any AppError.
 */
export async function registerRateLimits(app: HttpApp, config: RateLimitConfig, metrics: Metrics, shared?: SharedRateLimitStore): Promise<void> {
  if (!config.enabled) return;
  const exceeded = metrics.counter('agora_gateway_rate_limited_total', 'Requests refused by a rate limit', ['route']);
  await app.register(fastifyRateLimit, {
    global: true,
    max: config.perMinute,
    timeWindow: WINDOW_MS,
    cache: TRACKED_CLIENTS,
    keyGenerator: userOrIpKey,
    allowList: (request) => isOperational(request),
    errorResponseBuilder: rateLimited,
    onExceeded: (request) => exceeded.inc({ route: request.routeOptions.url ?? 'unmatched' }),
    // With several gateways the counts live in Redis, so a client gets the limit once, not once per
    // gateway. If Redis is down the limiter fails open: the shop keeps selling without the limit.
    ...(shared ? { redis: shared.redis, nameSpace: 'agora:rate-limit:', skipOnError: true } : {}),
  });
}
