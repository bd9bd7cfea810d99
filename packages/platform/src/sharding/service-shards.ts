import type { ServiceDeps } from '../service.js';
import { MapShardRouter, SHARD_ROUTER_DEFAULTS } from './map-router.js';
import { ShardMapStore } from './map-store.js';
import { initialMap, parseShardUrls, redactUrl, shardsVariable } from './map.js';

/** Environment of a sharded service (validated at start: a bad value names its variable). */
export const SHARDING_ENV = {
  /** How often an instance reads the newest shard map version (ms). */
  pollIntervalMs: 'AGORA_SHARD_MAP_POLL_MS',
  /** Connections per shard pool (each shard other than the main database has its own pool). */
  poolMax: 'AGORA_SHARD_POOL_MAX',
} as const;

/**
 * The router of a sharded service (order, cart): its map stored in the service's main database
 * (`deps.storage`), seeded on the first start from `<SERVICE>_SHARDS` (unset: the main database is
 * the one shard); the service's migrations applied to every shard before it is routed to; the map
 * polled until `close`.
 */
export async function openServiceShards(deps: ServiceDeps, service: string, migrationsFolder: string): Promise<MapShardRouter> {
  const urls = parseShardUrls(deps.env, service);
  const store = new ShardMapStore(deps.storage);
  const router = await MapShardRouter.open({
    store,
    initial: initialMap(service, urls),
    logger: deps.logger,
    opener: {
      main: deps.storage,
      poolMax: deps.env.int(SHARDING_ENV.poolMax, SHARD_ROUTER_DEFAULTS.poolMax, { min: 1, max: 200 }),
      // The main database was migrated by whoever started the service; a shard database is migrated here.
      prepare: async (storage, member) => {
        if (member.url !== null) await storage.migrate(service, migrationsFolder);
      },
    },
  });
  const stored = router.map.members.map((m) => m.url);
  const unlisted = (urls ?? []).filter((url) => !stored.includes(url));
  if (unlisted.length > 0) {
    deps.logger.warn(
      { variable: shardsVariable(service), unlisted: unlisted.map(redactUrl), version: router.version },
      `${shardsVariable(service)} lists databases the stored shard map does not: the stored map routes (agora shards add URL moves keys onto a new shard)`,
    );
  }
  router.start(deps.env.int(SHARDING_ENV.pollIntervalMs, SHARD_ROUTER_DEFAULTS.pollIntervalMs, { min: 50, max: 60_000 }));
  return router;
}
