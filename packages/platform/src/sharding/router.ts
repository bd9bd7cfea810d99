import type { Storage } from '../storage/storage.js';

/**
 * One shard: a named storage holding a slice of a service's rows. On PostgreSQL a shard is its own
 * database; embedded, it is the one PGlite (schemas keep services apart).
 */
export interface Shard {
  /** Stable name of the shard (`s0`, `s1`, ...): it appears in the shard map and in logs. */
  readonly id: string;
  readonly storage: Storage;
}

/**
 * Where a key's rows live. Every query about a sharded aggregate (a user's cart, a user's orders)
 * goes through `shardFor(key).storage` — never one storage assumed to hold every key — so that a
 * hash ring and online resharding can arrive later without touching the services.
 *
 * Rules every implementation keeps:
 * - `shardFor` is a pure function of the key and the current map: the same key maps to the same
 *   shard until `version` changes.
 * - `version` increases whenever the map changes (a shard added, keys moved); a caller that
 *   cached a routing decision compares versions to know it is stale.
 * - `all()` lists every shard once, for work that spans them (sweepers, admin views, migrations).
 */
export interface ShardRouter {
  shardFor(key: string): Shard;
  all(): readonly Shard[];
  readonly version: number;
  /**
   * Re-reads the stored map now (a caller met a shard fence: its routing may be stale); true when
   * the map changed. With `notWithinMs`, nothing is read when the map was read that recently (a
   * read that found nothing asks often; a fence, rarely). Absent on routers whose map never changes.
   */
  refresh?(notWithinMs?: number): Promise<boolean>;
  /** Called after every map change (new shards: start their background work). Returns the unsubscribe. */
  onChange?(listener: () => void): () => void;
}

/** The id the single shard goes by, so the shard map reads the same when more shards arrive. */
export const SINGLE_SHARD_ID = 's0';

/** Every key lives on one storage: what `npm start` and a one-database cluster run today. */
export class SingleShardRouter implements ShardRouter {
  readonly version = 1;
  private readonly shard: Shard;
  private readonly shards: readonly Shard[];

  constructor(storage: Storage, id: string = SINGLE_SHARD_ID) {
    this.shard = Object.freeze({ id, storage });
    this.shards = Object.freeze([this.shard]);
  }

  shardFor(_key: string): Shard {
    return this.shard;
  }

  all(): readonly Shard[] {
    return this.shards;
  }
}
