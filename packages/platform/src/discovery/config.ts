import { ConfigError, EnvReader, type Env } from '@agora/kernel';
import { DISCOVERY_DEFAULTS } from './registry.js';
import { REDIS_REGISTRY_DEFAULTS } from './redis.js';

export interface DiscoveryConfig {
  ttlMs: number;
  heartbeatIntervalMs: number;
  relistIntervalMs: number;
}

/**
 * Discovery timing from the environment:
 * - `AGORA_DISCOVERY_TTL_MS` (default 1500): silence after which an instance is down;
 * - `AGORA_DISCOVERY_HEARTBEAT_MS` (default TTL/3);
 * - `AGORA_DISCOVERY_RELIST_MS` (default 1000).
 * A TTL shorter than two heartbeats is refused (one lost heartbeat would make a live instance
 * flap), and so is a re-list interval not shorter than the TTL.
 */
export function parseDiscoveryConfig(env: Env | EnvReader = process.env): DiscoveryConfig {
  const reader = env instanceof EnvReader ? env : new EnvReader(env);
  const ttlMs = reader.int('AGORA_DISCOVERY_TTL_MS', DISCOVERY_DEFAULTS.ttlMs, { min: 2, max: 600_000 });
  const heartbeatIntervalMs = reader.int('AGORA_DISCOVERY_HEARTBEAT_MS', Math.max(1, Math.floor(ttlMs / 3)), { min: 1, max: 300_000 });
  if (ttlMs < 2 * heartbeatIntervalMs) {
    throw new ConfigError('AGORA_DISCOVERY_TTL_MS', `must be at least twice AGORA_DISCOVERY_HEARTBEAT_MS (${heartbeatIntervalMs}), got ${ttlMs}`);
  }
  const relistIntervalMs = reader.int('AGORA_DISCOVERY_RELIST_MS', DISCOVERY_DEFAULTS.relistIntervalMs, { min: 10, max: 600_000 });
  // When pub/sub drops messages, re-lists are the only heartbeats a client sees: spaced a TTL
  // apart, every instance would look dead between two of them.
  if (relistIntervalMs >= ttlMs) {
    throw new ConfigError('AGORA_DISCOVERY_RELIST_MS', `must be shorter than AGORA_DISCOVERY_TTL_MS (${ttlMs}), got ${relistIntervalMs}`);
  }
  return { ttlMs, heartbeatIntervalMs, relistIntervalMs };
}

/** Letters, digits and `_ : . -`: the prefix starts every key and channel name of the registry. */
const KEY_PREFIX = /^[A-Za-z0-9_:.-]{1,128}$/;

/**
 * `AGORA_DISCOVERY_PREFIX` (default `agora:discovery`): the namespace of the registry in Redis.
 * Clusters that share one Redis (a staging and a test cluster, parallel test runs) each need their
 * own, or every one of them would balance over the others' instances too.
 */
export function parseDiscoveryKeyPrefix(env: Env | EnvReader = process.env): string {
  const reader = env instanceof EnvReader ? env : new EnvReader(env);
  const prefix = reader.string('AGORA_DISCOVERY_PREFIX', REDIS_REGISTRY_DEFAULTS.keyPrefix);
  if (!KEY_PREFIX.test(prefix)) throw new ConfigError('AGORA_DISCOVERY_PREFIX', `must be 1..128 letters, digits or _ : . -, got "${prefix}"`);
  return prefix;
}
