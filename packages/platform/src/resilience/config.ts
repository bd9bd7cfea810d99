import { ConfigError, EnvReader, type Env } from '@agora/kernel';

/** How one service's calls are protected. Every field is a named default below (docs/architecture.md#conventions-in-the-code). */
export interface ResilienceSettings {
  /** Per-attempt timeout of reads (GET), in ms. */
  readTimeoutMs: number;
  /** Per-attempt timeout of writes (every other method), in ms. */
  writeTimeoutMs: number;
  /** Extra attempts after the first, for calls that may be retried. */
  retries: number;
  /** First backoff delay before a retry, in ms (exponential with decorrelated jitter from there). */
  retryBaseDelayMs: number;
  /** Cap on one backoff delay, in ms. */
  retryMaxDelayMs: number;
  /** Consecutive failures of one instance that open its circuit breaker. */
  breakerFailures: number;
  /** How long an open breaker refuses calls before one probe call may go through, in ms. */
  breakerHalfOpenAfterMs: number;
  /** Calls to the service running at once from this process. */
  bulkheadConcurrency: number;
  /** Calls waiting for a slot; beyond this a call is refused with 503 at once. */
  bulkheadQueue: number;
  /** Retry-After sent with a bulkhead refusal, in seconds. */
  bulkheadRetryAfterSeconds: number;
}

export const RESILIENCE_DEFAULTS: Readonly<ResilienceSettings> = Object.freeze({
  readTimeoutMs: 2_000,
  writeTimeoutMs: 10_000,
  retries: 2,
  retryBaseDelayMs: 50,
  retryMaxDelayMs: 1_000,
  breakerFailures: 5,
  breakerHalfOpenAfterMs: 5_000,
  bulkheadConcurrency: 256,
  bulkheadQueue: 512,
  bulkheadRetryAfterSeconds: 1,
});

/** The environment variable that sets each setting (documented in docs/operations). */
export const RESILIENCE_ENV: Readonly<Record<keyof ResilienceSettings, string>> = Object.freeze({
  readTimeoutMs: 'AGORA_CALL_TIMEOUT_MS',
  writeTimeoutMs: 'AGORA_WRITE_CALL_TIMEOUT_MS',
  retries: 'AGORA_RETRIES',
  retryBaseDelayMs: 'AGORA_RETRY_BASE_DELAY_MS',
  retryMaxDelayMs: 'AGORA_RETRY_MAX_DELAY_MS',
  breakerFailures: 'AGORA_BREAKER_FAILURES',
  breakerHalfOpenAfterMs: 'AGORA_BREAKER_HALF_OPEN_MS',
  bulkheadConcurrency: 'AGORA_BULKHEAD_CONCURRENCY',
  bulkheadQueue: 'AGORA_BULKHEAD_QUEUE',
  bulkheadRetryAfterSeconds: 'AGORA_BULKHEAD_RETRY_AFTER_S',
});

/** Allowed range of each setting; the same bounds apply to env values and to options. */
const BOUNDS: Readonly<Record<keyof ResilienceSettings, { min: number; max: number }>> = {
  readTimeoutMs: { min: 1, max: 600_000 },
  writeTimeoutMs: { min: 1, max: 600_000 },
  retries: { min: 0, max: 10 },
  retryBaseDelayMs: { min: 0, max: 60_000 },
  retryMaxDelayMs: { min: 0, max: 600_000 },
  breakerFailures: { min: 1, max: 10_000 },
  breakerHalfOpenAfterMs: { min: 1, max: 3_600_000 },
  bulkheadConcurrency: { min: 1, max: 1_000_000 },
  bulkheadQueue: { min: 0, max: 1_000_000 },
  bulkheadRetryAfterSeconds: { min: 0, max: 3_600 },
};

const KEYS = Object.keys(RESILIENCE_DEFAULTS) as (keyof ResilienceSettings)[];

/**
 * Defaults overlaid with `overrides`, checked: a value out of range throws a ConfigError that names
 * the option (`resilience.retries`), so a typo in wiring code fails at start like a bad env value.
 */
export function resolveResilienceSettings(overrides: Partial<ResilienceSettings> = {}, base: Readonly<ResilienceSettings> = RESILIENCE_DEFAULTS): ResilienceSettings {
  const settings: ResilienceSettings = { ...base };
  for (const key of KEYS) {
    const value = overrides[key];
    if (value === undefined) continue;
    const { min, max } = BOUNDS[key];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(`resilience.${key}`, `must be an integer in ${min}..${max}, got ${String(value)}`);
    }
    settings[key] = value;
  }
  if (settings.retryMaxDelayMs < settings.retryBaseDelayMs) {
    throw new ConfigError('resilience.retryMaxDelayMs', `must be >= retryBaseDelayMs (${settings.retryBaseDelayMs}), got ${settings.retryMaxDelayMs}`);
  }
  return settings;
}

/**
 * Settings from the environment (AGORA_CALL_TIMEOUT_MS, AGORA_RETRIES, ... see RESILIENCE_ENV);
 * unset variables keep the defaults, a bad value throws a ConfigError naming the variable.
 */
export function resilienceSettingsFromEnv(env: Env = process.env): ResilienceSettings {
  const settings: ResilienceSettings = new EnvReader(env).ints(RESILIENCE_ENV, RESILIENCE_DEFAULTS, BOUNDS);
  if (settings.retryMaxDelayMs < settings.retryBaseDelayMs) {
    throw new ConfigError(RESILIENCE_ENV.retryMaxDelayMs, `must be >= ${RESILIENCE_ENV.retryBaseDelayMs} (${settings.retryBaseDelayMs}), got ${settings.retryMaxDelayMs}`);
  }
  return settings;
}
