import { describe, expect, it } from 'vitest';
import { ConfigError, EnvReader, LIMITS } from '@agora/kernel';
import { GATEWAY_DEFAULTS, loadGatewayConfig } from '../src/index.js';

const load = (env: Record<string, string>) => loadGatewayConfig(new EnvReader(env));

describe('loadGatewayConfig', () => {
  it('has defaults: limits on, 600/min, 20/min on auth, no proxy trust', () => {
    expect(load({})).toEqual({
      rateLimits: { enabled: true, perMinute: 600, authPerMinute: 20, flashSalePurchasesPerSecond: 5_000 },
      trustProxy: false,
      serviceTimeoutMs: 2 * LIMITS.serviceCallTimeoutMs,
    });
    expect(load({})).toEqual(GATEWAY_DEFAULTS);
  });

  it('reads every variable', () => {
    expect(
      load({
        AGORA_RATE_LIMITS: 'off',
        AGORA_RATE_LIMIT_PER_MINUTE: '1000',
        AGORA_AUTH_RATE_LIMIT_PER_MINUTE: '5',
        AGORA_FLASH_SALE_PURCHASES_PER_SECOND: '200',
        AGORA_TRUST_PROXY: 'true',
        AGORA_GATEWAY_TIMEOUT_MS: '3000',
      }),
    ).toEqual({ rateLimits: { enabled: false, perMinute: 1000, authPerMinute: 5, flashSalePurchasesPerSecond: 200 }, trustProxy: true, serviceTimeoutMs: 3000 });
    expect(load({ AGORA_RATE_LIMITS: 'on' }).rateLimits.enabled).toBe(true);
  });

  it.each([
    ['AGORA_RATE_LIMITS', 'sometimes'],
    ['AGORA_RATE_LIMIT_PER_MINUTE', 'lots'],
    ['AGORA_RATE_LIMIT_PER_MINUTE', '0'],
    ['AGORA_AUTH_RATE_LIMIT_PER_MINUTE', '-3'],
    ['AGORA_AUTH_RATE_LIMIT_PER_MINUTE', '2.5'],
    ['AGORA_FLASH_SALE_PURCHASES_PER_SECOND', '0'],
    ['AGORA_TRUST_PROXY', 'maybe'],
    ['AGORA_GATEWAY_TIMEOUT_MS', '5'],
  ])('refuses %s=%s naming the variable', (variable, value) => {
    let thrown: unknown;
    try {
      load({ [variable]: value });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).variable).toBe(variable);
    expect((thrown as ConfigError).message).toContain(variable);
  });
});
