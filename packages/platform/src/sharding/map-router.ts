import type { Logger } from '../telemetry/logger.js';
import { PostgresStorage } from '../storage/postgres.js';
import type { Storage } from '../storage/storage.js';
import type { ShardMap, ShardMember } from './map.js';
import type { ShardMapStore, StoredShardMap } from './map-store.js';
import type { Shard, ShardRouter } from './router.js';
import { strategyOf, type ShardStrategy } from './strategy.js';

export const SHARD_ROUTER_DEFAULTS = {
  /** A read that found nothing re-reads the map at most this often (it may be routed by a map a move replaced). */
  emptyReadRecheckMs: 250,
  /**
   * How often every instance reads the newest map version (one index probe). A move waits a few of
   * these after switching before it cleans up, so a stale instance has re-read the map by then.
   */
  pollIntervalMs: 1_000,
  /** Connections per shard pool a router opens (the main database keeps its own pool). */
  poolMax: 10,
} as const;

/** Opens the storage of a shard named by a map member; `prepare` runs once per opened storage (migrations). */
export interface ShardStorageOpener {
  main: Storage;
  /** Opens a URL member; default a PostgresStorage with `poolMax` connections. */
  open?: (url: string) => Storage;
  poolMax?: number;
  /** Runs on every shard's storage before the router routes to it: the service's migrations. */
  prepare?: (storage: Storage, member: ShardMember) => Promise<void>;
}

interface RouterState {
  map: StoredShardMap;
  strategy: ShardStrategy;
  shards: Map<string, Shard>;
  list: readonly Shard[];
}

/**
 * A ShardRouter that follows the stored shard map: it routes by the newest version it has read,
 * reads the version every `pollIntervalMs` (and at once when a writer in this process writes, or
 * when a caller met a shard fence and calls `refresh`), opens the storage of any shard a new
 * version adds (running `prepare` on it first), and tells `onChange` listeners (per-shard saga
 * recovery and outbox relays start on a new shard that way).
 *
 * A stale router is never unsafe, only slow: a move fences the keys it moves on their old shard
 * (fence.ts), so a write routed by an old version is refused there and retried after a refresh.
 */
export class MapShardRouter implements ShardRouter {
  private state: RouterState;
  private readonly storages = new Map<string, Storage>();
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<boolean> | undefined;
  private unsubscribe: (() => void) | undefined;
  private mainPrepared = false;
  /** When the stored version was last read (ms since the epoch). */
  private loadedAt = Date.now();

  private constructor(
    private readonly store: ShardMapStore,
    private readonly service: string,
    private readonly opener: ShardStorageOpener,
    private readonly logger: Logger,
  ) {
    this.state = undefined as unknown as RouterState;
  }

  /** Loads (or creates from `initial`) the service's map and opens every shard it lists. */
  static async open(options: { store: ShardMapStore; initial: ShardMap; opener: ShardStorageOpener; logger: Logger }): Promise<MapShardRouter> {
    const router = new MapShardRouter(options.store, options.initial.service, options.opener, options.logger);
    const map = await options.store.loadOrCreate(options.initial);
    router.state = await router.build(map);
    router.unsubscribe = options.store.onWrite((service) => {
      if (service === router.service) void router.refresh().catch((err: unknown) => router.logger.warn({ err }, 'shard map refresh failed'));
    });
    return router;
  }

  get version(): number {
    return this.state.map.version;
  }

  get map(): StoredShardMap {
    return this.state.map;
  }

  shardFor(key: string): Shard {
    const state = this.state;
    const shard = state.shards.get(state.strategy.ownerOf(key));
    if (!shard) throw new Error(`shard map ${this.service} v${state.map.version}: no shard for key ${key}`);
    return shard;
  }

  all(): readonly Shard[] {
    return this.state.list;
  }

  /** Reads the newest version (unless read within `notWithinMs`); when it is newer, switches to it. True when the map changed. */
  refresh(notWithinMs = 0): Promise<boolean> {
    if (notWithinMs > 0 && Date.now() - this.loadedAt < notWithinMs) return Promise.resolve(false);
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Polls the stored version every `intervalMs` until `close`. */
  start(intervalMs: number = SHARD_ROUTER_DEFAULTS.pollIntervalMs): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.logger.warn({ err }, 'shard map poll failed; routing by the map already read'));
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops polling and closes the shard pools this router opened (never the main storage). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    const opened = [...this.storages.values()];
    this.storages.clear();
    await Promise.all(opened.map((s) => s.close()));
  }

  private async load(): Promise<boolean> {
    const newest = await this.store.latestVersion(this.service);
    this.loadedAt = Date.now();
    if (newest <= this.state.map.version) return false;
    const map = await this.store.latest(this.service);
    if (!map || map.version <= this.state.map.version) return false;
    this.state = await this.build(map);
    this.logger.info({ service: this.service, version: map.version, shards: map.members.map((m) => m.id) }, 'shard map changed');
    for (const listener of this.listeners) listener();
    return true;
  }

  private async build(map: StoredShardMap): Promise<RouterState> {
    const strategy = strategyOf(map);
    const shards = new Map<string, Shard>();
    for (const member of map.members) {
      const previous = this.state?.shards.get(member.id);
      const storage = await this.storageOf(member);
      shards.set(member.id, previous?.storage === storage ? previous : Object.freeze({ id: member.id, storage }));
    }
    return { map, strategy, shards, list: Object.freeze([...shards.values()]) };
  }

  private async storageOf(member: ShardMember): Promise<Storage> {
    if (member.url === null) {
      if (!this.mainPrepared) await this.opener.prepare?.(this.opener.main, member);
      this.mainPrepared = true;
      return this.opener.main;
    }
    const existing = this.storages.get(member.url);
    if (existing) return existing;
    const storage = this.opener.open?.(member.url) ?? new PostgresStorage({ url: member.url, poolMax: this.opener.poolMax ?? SHARD_ROUTER_DEFAULTS.poolMax });
    try {
      await this.opener.prepare?.(storage, member);
    } catch (err) {
      await storage.close().catch(() => undefined);
      throw err;
    }
    this.storages.set(member.url, storage);
    return storage;
  }
}
