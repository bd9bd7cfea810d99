import type { Logger } from '../telemetry/logger.js';
import type { CacheMetrics } from './cache-metrics.js';
import type { CacheInvalidation, InvalidationChannel } from './invalidation.js';
import type { L2Store } from './l2.js';

/** Invalidations kept for replay while L2 or the channel fails; past this, a new generation is started instead. */
export const INVALIDATION_SENDER_LIMITS = { pendingKeysMax: 1_000 } as const;

export interface InvalidationSenderOptions {
  cache: string;
  /** The sending cache instance (its messages carry it). */
  source: string;
  l2: L2Store | undefined;
  channel: InvalidationChannel | undefined;
  metrics: CacheMetrics;
  logger: Logger | undefined;
  /** How often what could not be sent is tried again. */
  retryMs: number;
  secondDeleteDelayMs: number;
  /** The L2 key of a cache key, in the cache's current generation. */
  l2Key: (key: string) => string;
  /** Starts a new generation again (what a failed generation change is retried as). */
  newGeneration: () => Promise<void>;
}

/**
 * The outgoing half of invalidation: deletes keys from L2 and broadcasts them to every instance,
 * once at once and once more `secondDeleteDelayMs` later; what fails (Redis down) is kept, bounded,
 * and retried every `retryMs` until it goes through.
 */
export class InvalidationSender {
  private readonly pendingKeys = new Set<string>();
  private pendingGeneration = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: InvalidationSenderOptions) {}

  /** L2 delete and broadcast of `keys`, now and again after the second-delete delay. */
  async dropKeys(keys: readonly string[]): Promise<void> {
    await this.spread(keys);
    this.later(() => this.spread(keys));
  }

  /** The next generation number from L2 (`INCR`); on failure `current + 1`, and the change is retried. */
  async nextGeneration(generationKey: string, current: number): Promise<number> {
    if (this.options.l2 === undefined) return current + 1;
    try {
      return Math.max(current + 1, await this.options.l2.incr(generationKey));
    } catch {
      this.options.metrics.l2Error('generation');
      this.pendingGeneration = true;
      this.scheduleRetry();
      return current + 1;
    }
  }

  async publish(message: CacheInvalidation): Promise<void> {
    if (this.options.channel === undefined) return;
    try {
      await this.options.channel.publish(message);
    } catch {
      this.options.metrics.l2Error('publish');
      if (message.generation !== undefined) this.pendingGeneration = true;
      this.keepPending(message.keys);
    }
  }

  /** Sends what is pending now (the channel is back). */
  async flush(): Promise<void> {
    if (this.closed) return;
    const keys = [...this.pendingKeys];
    const generation = this.pendingGeneration;
    this.pendingKeys.clear();
    this.pendingGeneration = false;
    if (generation) await this.options.newGeneration();
    else if (keys.length > 0) await this.spread(keys);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
  }

  private async spread(keys: readonly string[]): Promise<void> {
    const { l2, cache } = this.options;
    if (l2 !== undefined) {
      try {
        await l2.del(keys.map((k) => this.options.l2Key(k)));
      } catch {
        // Kept for L2; the broadcast still goes out, so that every L1 drops the keys now.
        this.options.metrics.l2Error('delete');
        this.keepPending(keys);
      }
    }
    await this.publish({ cache, keys: [...keys], source: this.options.source });
  }

  private keepPending(keys: readonly string[]): void {
    for (const key of keys) this.pendingKeys.add(key);
    if (this.pendingKeys.size > INVALIDATION_SENDER_LIMITS.pendingKeysMax) {
      this.pendingKeys.clear();
      this.pendingGeneration = true;
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, this.options.retryMs);
    this.retryTimer.unref();
  }

  private later(work: () => Promise<void>): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) work().catch((err: unknown) => this.options.logger?.warn({ err, cache: this.options.cache }, 'delayed cache invalidation failed'));
    }, this.options.secondDeleteDelayMs);
    timer.unref();
    this.timers.add(timer);
  }
}
