import { describe, expect, it } from 'vitest';
import { ConfigError, EnvReader } from '@agora/kernel';
import { CATALOG_CACHE_DEFAULTS, catalogCacheConfig } from '../src/cache-config.js';

const config = (env: Record<string, string>) => catalogCacheConfig(new EnvReader(env));

describe('catalog cache settings from the environment', () => {
  it('is on, LRU, L1 only and in the default namespace when nothing is set', () => {
    expect(config({})).toEqual({ enabled: true, policy: 'lru', maxEntries: CATALOG_CACHE_DEFAULTS.maxEntries, ttlMs: 60_000, redisUrl: undefined, prefix: 'agora:cache' });
  });

  it('reads every variable', () => {
    expect(
      config({ AGORA_CATALOG_CACHE: 'off', AGORA_CATALOG_CACHE_POLICY: 'lfu', AGORA_CATALOG_CACHE_ENTRIES: '50', AGORA_CATALOG_CACHE_TTL_MS: '5000', REDIS_URL: 'redis://127.0.0.1:6379', AGORA_CACHE_PREFIX: 'shop:c' }),
    ).toEqual({ enabled: false, policy: 'lfu', maxEntries: 50, ttlMs: 5_000, redisUrl: 'redis://127.0.0.1:6379', prefix: 'shop:c' });
  });

  it('gives a cluster with its own discovery namespace its own cache namespace', () => {
    expect(config({ AGORA_DISCOVERY_PREFIX: 'bench:ab12' }).prefix).toBe('bench:ab12:cache');
    expect(config({ AGORA_DISCOVERY_PREFIX: 'bench:ab12', AGORA_CACHE_PREFIX: 'mine' }).prefix).toBe('mine');
  });

  it('refuses bad values naming the variable', () => {
    expect(() => config({ AGORA_CATALOG_CACHE_POLICY: 'random' })).toThrow(ConfigError);
    expect(() => config({ AGORA_CATALOG_CACHE_ENTRIES: '0' })).toThrow(/AGORA_CATALOG_CACHE_ENTRIES/);
    expect(() => config({ AGORA_CATALOG_CACHE: 'maybe' })).toThrow(/AGORA_CATALOG_CACHE/);
    expect(() => config({ AGORA_CACHE_PREFIX: 'has space' })).toThrow(/AGORA_CACHE_PREFIX/);
  });
});
