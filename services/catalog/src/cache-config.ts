import type { EnvReader } from '@agora/kernel';
import {
  InMemoryInvalidationChannel,
  L1_POLICIES,
  RedisInvalidationChannel,
  RedisL2Store,
  TIERED_CACHE_DEFAULTS,
  TieredCache,
  type InvalidationChannel,
  type L1Policy,
  type L2Store,
  type Logger,
  type Metrics,
} from '@agora/platform';
import type { StorefrontCaches } from './app/storefront-reads.js';

/** The catalog's cache settings, from the environment (docs/caching.md). */
export interface CatalogCacheConfig {
  enabled: boolean;
  policy: L1Policy;
  /** L1 entries per cache (products, and pages apart). */
  maxEntries: number;
  ttlMs: number;
  /** Redis for L2 and the invalidation channel; unset: L1 only, invalidated within this process. */
  redisUrl: string | undefined;
  /** Namespace of the cache's Redis keys and channel: clusters or test runs sharing one Redis need one each. */
  prefix: string;
}

export const CATALOG_CACHE_DEFAULTS = {
  maxEntries: 10_000,
  prefix: 'agora:cache',
} as const;

/** Past a million entries per process the memory (~2 KB a product) belongs in L2. */
const MAX_ENTRIES_LIMIT = 1_000_000;
/** An hour: invalidation keeps entries right; the TTL only bounds what a lost message leaves behind. */
const TTL_MS_LIMIT = 3_600_000;
/** Redis key characters, as the discovery prefix allows them, with room for `:cache`. */
const PREFIX = /^[A-Za-z0-9_:.-]{1,160}$/;

/**
 * A cluster that has a discovery namespace of its own (several clusters share one Redis) gets a
 * cache namespace of its own too, `<AGORA_DISCOVERY_PREFIX>:cache`: its pages must never be served
 * to another cluster whose catalog differs. `AGORA_CACHE_PREFIX` overrides it.
 */
function defaultPrefix(env: EnvReader): string {
  const discovery = env.string('AGORA_DISCOVERY_PREFIX');
  return discovery === undefined ? CATALOG_CACHE_DEFAULTS.prefix : `${discovery}:cache`;
}

export function catalogCacheConfig(env: EnvReader): CatalogCacheConfig {
  const prefix = env.string('AGORA_CACHE_PREFIX') ?? defaultPrefix(env);
  if (!PREFIX.test(prefix)) throw new Error(`AGORA_CACHE_PREFIX must match ${PREFIX.source}, got "${prefix}"`);
  return {
    enabled: env.bool('AGORA_CATALOG_CACHE', true),
    policy: env.oneOf('AGORA_CATALOG_CACHE_POLICY', L1_POLICIES, 'lru'),
    maxEntries: env.int('AGORA_CATALOG_CACHE_ENTRIES', CATALOG_CACHE_DEFAULTS.maxEntries, { min: 1, max: MAX_ENTRIES_LIMIT }),
    ttlMs: env.int('AGORA_CATALOG_CACHE_TTL_MS', TIERED_CACHE_DEFAULTS.ttlMs, { min: 1, max: TTL_MS_LIMIT }),
    redisUrl: env.url('REDIS_URL', ['redis:', 'rediss:']),
    prefix,
  };
}

export interface OpenedCaches extends StorefrontCaches {
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The catalog's two caches over one L2 and one channel (Redis when configured), or undefined when off. */
export function openCatalogCaches(config: CatalogCacheConfig, logger: Logger, metrics: Metrics): OpenedCaches | undefined {
  if (!config.enabled) return undefined;
  let l2: L2Store | undefined;
  let channel: InvalidationChannel;
  if (config.redisUrl === undefined) {
    channel = new InMemoryInvalidationChannel();
  } else {
    l2 = new RedisL2Store({ url: config.redisUrl, prefix: config.prefix, name: 'agora-catalog-cache' });
    channel = new RedisInvalidationChannel({ url: config.redisUrl, prefix: config.prefix, logger, name: 'agora-catalog-cache' });
  }
  const common = { policy: config.policy, maxEntries: config.maxEntries, ttlMs: config.ttlMs, channel, metrics, logger };
  // Products are keyed by their UUIDv7 ids, unique across databases: safe to share in Redis. Pages
  // are keyed by query, which two catalogs on different databases behind one Redis would share,
  // so they stay in L1 (one database read per instance after each write) and only their
  // generations travel.
  const products = new TieredCache({ name: 'catalog-products', ...common, ...(l2 === undefined ? {} : { l2 }) });
  const pages = new TieredCache({ name: 'catalog-pages', ...common });
  return {
    products,
    pages,
    async start() {
      await Promise.all([products.start(), pages.start()]);
    },
    async close() {
      await Promise.all([products.close(), pages.close()]);
      await l2?.close();
      await channel.close();
    },
  };
}
