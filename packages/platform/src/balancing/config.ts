import { ConfigError, EnvReader, type Env } from '@agora/kernel';
import { BALANCING_STRATEGIES, type BalancingStrategy } from './balancer.js';
import { OUTLIER_DEFAULTS, type OutlierOptions } from './health.js';

/**
 * The default strategy when a service has none configured: power of two choices. Under even load it
 * spreads requests as evenly as round-robin; when one instance slows down (a GC pause, a noisy
 * neighbour, a cold cache) its in-flight requests pile up and p2c steers away from it within a few
 * requests, where round-robin would keep feeding it its full share. Unlike least-outstanding it
 * costs O(1) and does not make every idle-looking endpoint a stampede target.
 */
export const DEFAULT_BALANCING_STRATEGY: BalancingStrategy = 'p2c';

export interface BalancingConfig {
  readonly defaultStrategy: BalancingStrategy;
  /** Strategies set per service. */
  readonly perService: ReadonlyMap<string, BalancingStrategy>;
  readonly outlier: OutlierOptions;
  strategyFor(service: string): BalancingStrategy;
}

const SERVICE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Balancing from the environment:
 * - `AGORA_BALANCING`: comma-separated `service:strategy`, e.g. `catalog:p2c,cart:consistent-hash`;
 * - `AGORA_BALANCING_DEFAULT`: the strategy of every other service (default p2c);
 * - `AGORA_OUTLIER_CONSECUTIVE_FAILURES` (5), `AGORA_OUTLIER_EJECTION_MS` (10000),
 *   `AGORA_OUTLIER_MAX_EJECTION_MS` (300000), `AGORA_OUTLIER_MAX_EJECTION_PERCENT` (50).
 * Anything malformed throws a ConfigError naming the variable and the offending entry.
 */
export function parseBalancingConfig(env: Env | EnvReader = process.env): BalancingConfig {
  const reader = env instanceof EnvReader ? env : new EnvReader(env);
  const defaultStrategy = reader.oneOf('AGORA_BALANCING_DEFAULT', BALANCING_STRATEGIES, DEFAULT_BALANCING_STRATEGY);
  const perService = parseStrategies(reader.string('AGORA_BALANCING'));
  const baseEjectionMs = reader.int('AGORA_OUTLIER_EJECTION_MS', OUTLIER_DEFAULTS.baseEjectionMs, { min: 1 });
  const maxEjectionMs = reader.int('AGORA_OUTLIER_MAX_EJECTION_MS', Math.max(OUTLIER_DEFAULTS.maxEjectionMs, baseEjectionMs), { min: 1 });
  if (maxEjectionMs < baseEjectionMs) {
    throw new ConfigError('AGORA_OUTLIER_MAX_EJECTION_MS', `must be >= AGORA_OUTLIER_EJECTION_MS (${baseEjectionMs}), got ${maxEjectionMs}`);
  }
  const outlier: OutlierOptions = Object.freeze({
    consecutiveFailures: reader.int('AGORA_OUTLIER_CONSECUTIVE_FAILURES', OUTLIER_DEFAULTS.consecutiveFailures, { min: 1, max: 1_000 }),
    baseEjectionMs,
    maxEjectionMs,
    maxEjectionPercent: reader.int('AGORA_OUTLIER_MAX_EJECTION_PERCENT', OUTLIER_DEFAULTS.maxEjectionPercent, { min: 0, max: 100 }),
  });
  return {
    defaultStrategy,
    perService,
    outlier,
    strategyFor: (service) => perService.get(service) ?? defaultStrategy,
  };
}

function parseStrategies(raw: string | undefined): ReadonlyMap<string, BalancingStrategy> {
  const variable = 'AGORA_BALANCING';
  const strategies = new Map<string, BalancingStrategy>();
  if (raw === undefined) return strategies;
  for (const entry of raw.split(',')) {
    const trimmed = entry.trim();
    if (trimmed === '') continue;
    const parts = trimmed.split(':');
    if (parts.length !== 2) throw new ConfigError(variable, `entry "${trimmed}" must be service:strategy`);
    const service = parts[0]!.trim();
    const strategy = parts[1]!.trim();
    if (!SERVICE.test(service)) throw new ConfigError(variable, `entry "${trimmed}": "${service}" is not a service name`);
    if (!(BALANCING_STRATEGIES as readonly string[]).includes(strategy)) {
      throw new ConfigError(variable, `entry "${trimmed}": strategy must be one of ${BALANCING_STRATEGIES.join(', ')}, got "${strategy}"`);
    }
    if (strategies.has(service)) throw new ConfigError(variable, `service "${service}" is listed twice`);
    strategies.set(service, strategy as BalancingStrategy);
  }
  return strategies;
}
