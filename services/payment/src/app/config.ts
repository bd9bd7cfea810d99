import { randomBytes } from 'node:crypto';
import { ConfigError, type EnvReader } from '@agora/kernel';
import { SANDBOX_DEFAULT_ASYNC_DELAY_MS } from '../sandbox/sandbox-provider.js';
import type { LeasePolicy, ProviderRetryPolicy } from './payments.js';

export const WEBHOOK_SECRET_VARIABLE = 'AGORA_PAYMENT_WEBHOOK_SECRET';
export const MIN_WEBHOOK_SECRET_CHARS = 16;

export interface PaymentConfig {
  webhookSecret: string;
  /** True when no secret was configured and this process made one up (fine for one process only). */
  webhookSecretGenerated: boolean;
  sandboxAsyncDelayMs: number;
  retry: ProviderRetryPolicy;
  lease: LeasePolicy;
}

export const PAYMENT_DEFAULTS = {
  providerAttempts: 3,
  providerBackoffMs: 50,
  leaseMs: 30_000,
  // Below the service-call timeout (5 s), so a waiting caller gets our 503, not a transport timeout.
  leaseWaitMs: 4_000,
  leasePollMs: 20,
} as const;

let processSecret: string | undefined;

/**
 * `AGORA_PAYMENT_WEBHOOK_SECRET` signs and verifies provider webhooks. When it is unset, a random
 * secret is made once per process and shared by this process's sandbox and webhook route: enough
 * for `npm start`. With more than one payment process (`agora cluster`), set it: a webhook the
 * sandbox of one process sends may reach another process.
 */
function webhookSecret(env: EnvReader): { secret: string; generated: boolean } {
  const configured = env.string(WEBHOOK_SECRET_VARIABLE);
  if (configured !== undefined) {
    if (configured.length < MIN_WEBHOOK_SECRET_CHARS) throw new ConfigError(WEBHOOK_SECRET_VARIABLE, `must be at least ${MIN_WEBHOOK_SECRET_CHARS} characters`);
    return { secret: configured, generated: false };
  }
  processSecret ??= randomBytes(32).toString('hex');
  return { secret: processSecret, generated: true };
}

/** Payment settings from the environment, validated (a bad value names its variable). */
export function loadPaymentConfig(env: EnvReader): PaymentConfig {
  const { secret, generated } = webhookSecret(env);
  return {
    webhookSecret: secret,
    webhookSecretGenerated: generated,
    sandboxAsyncDelayMs: env.int('AGORA_PAYMENT_SANDBOX_ASYNC_DELAY_MS', SANDBOX_DEFAULT_ASYNC_DELAY_MS, { min: 0, max: 60_000 }),
    retry: {
      attempts: env.int('AGORA_PAYMENT_PROVIDER_ATTEMPTS', PAYMENT_DEFAULTS.providerAttempts, { min: 1, max: 10 }),
      backoffMs: env.int('AGORA_PAYMENT_PROVIDER_BACKOFF_MS', PAYMENT_DEFAULTS.providerBackoffMs, { min: 0, max: 5_000 }),
    },
    lease: { leaseMs: PAYMENT_DEFAULTS.leaseMs, waitMs: PAYMENT_DEFAULTS.leaseWaitMs, pollMs: PAYMENT_DEFAULTS.leasePollMs },
  };
}
