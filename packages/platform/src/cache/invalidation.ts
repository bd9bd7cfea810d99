import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from '../telemetry/logger.js';
import { cacheRedisConnection } from './l2.js';

/** What one instance tells every other: drop these keys of this cache, or all of it (a new generation). */
export interface CacheInvalidation {
  cache: string;
  keys: string[];
  /** Present when the cache's generation moved: every entry of older generations is gone. */
  generation?: number;
  /** The sending cache instance, which skips its own messages (it applied them when it sent them). */
  source?: string;
}

export interface InvalidationListener {
  message(invalidation: CacheInvalidation): void;
  /** The channel can no longer promise delivery (connection lost): trust nothing kept locally. */
  lost(): void;
  /** Delivery is back; messages sent meanwhile may be missing, so local entries are dropped again. */
  restored(): void;
}

/**
 * Broadcast of invalidations to every instance (publish/subscribe, at most once). A message lost
 * with the connection is covered by `lost`/`restored`, which make listeners drop their L1 and
 * keep entries only briefly until delivery is back.
 */
export interface InvalidationChannel {
  publish(invalidation: CacheInvalidation): Promise<void>;
  listen(cache: string, listener: InvalidationListener): void;
  readonly connected: boolean;
  close(): Promise<void>;
}

/** Invalidation messages larger than this are refused (a page of keys is far below it). */
export const INVALIDATION_LIMITS = { keysPerMessage: 1_000 } as const;

function checkMessage(invalidation: CacheInvalidation): void {
  if (invalidation.keys.length > INVALIDATION_LIMITS.keysPerMessage) {
    throw new Error(`an invalidation names at most ${INVALIDATION_LIMITS.keysPerMessage} keys, got ${invalidation.keys.length}`);
  }
}

function parseInvalidation(text: string): CacheInvalidation | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return undefined;
    const record = value as Record<string, unknown>;
    if (typeof record.cache !== 'string' || !Array.isArray(record.keys) || !record.keys.every((k) => typeof k === 'string')) return undefined;
    const generation = record.generation;
    if (generation !== undefined && !Number.isSafeInteger(generation)) return undefined;
    const source = typeof record.source === 'string' ? { source: record.source } : {};
    return { cache: record.cache, keys: record.keys as string[], ...(typeof generation === 'number' ? { generation } : {}), ...source };
  } catch {
    return undefined;
  }
}

/** One process: every cache listening on this channel hears every publish, synchronously. */
export class InMemoryInvalidationChannel implements InvalidationChannel {
  readonly connected = true;
  private readonly listeners = new Map<string, InvalidationListener[]>();

  async publish(invalidation: CacheInvalidation): Promise<void> {
    checkMessage(invalidation);
    for (const listener of this.listeners.get(invalidation.cache) ?? []) listener.message(invalidation);
  }

  listen(cache: string, listener: InvalidationListener): void {
    this.listeners.set(cache, [...(this.listeners.get(cache) ?? []), listener]);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

export interface RedisInvalidationOptions {
  url: string;
  /** The channel is `<prefix>:invalidations`: clusters or test runs sharing one Redis need one each. */
  prefix: string;
  logger: Logger;
  name?: string;
}

/**
 * Redis pub/sub: one subscriber connection per process, one channel for every cache under the
 * prefix. While the subscriber is down, listeners are told `lost`; when it is subscribed again,
 * `restored`.
 */
export class RedisInvalidationChannel implements InvalidationChannel {
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly channel: string;
  private readonly listeners = new Map<string, InvalidationListener[]>();
  private subscribed = false;
  private closed = false;

  constructor(private readonly options: RedisInvalidationOptions) {
    this.channel = `${options.prefix}:invalidations`;
    const name = options.name ?? 'agora-cache';
    this.publisher = cacheRedisConnection(options.url, `${name}-pub`);
    // No command timeout on the subscriber (see cacheRedisConnection): an unanswered SUBSCRIBE
    // leaves the channel marked lost until the next 'ready', which is what a timeout would do too.
    this.subscriber = cacheRedisConnection(options.url, `${name}-sub`, undefined);
    this.subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return;
      const invalidation = parseInvalidation(text);
      if (invalidation === undefined) {
        options.logger.warn({ channel }, 'malformed cache invalidation ignored');
        return;
      }
      for (const listener of this.listeners.get(invalidation.cache) ?? []) listener.message(invalidation);
    });
    // 'ready' follows every (re)connect; ioredis re-subscribes on its own, and the SUBSCRIBE below
    // makes sure of it before the listeners are told they can trust the channel again.
    this.subscriber.on('ready', () => void this.resubscribe());
    this.subscriber.on('close', () => this.markLost());
    this.publisher.connect().catch(() => undefined);
    this.subscriber.connect().catch(() => undefined);
  }

  get connected(): boolean {
    return this.subscribed;
  }

  async publish(invalidation: CacheInvalidation): Promise<void> {
    checkMessage(invalidation);
    await this.publisher.publish(this.channel, JSON.stringify(invalidation));
  }

  listen(cache: string, listener: InvalidationListener): void {
    this.listeners.set(cache, [...(this.listeners.get(cache) ?? []), listener]);
    if (!this.subscribed) listener.lost();
  }

  /** Resolves once subscribed (or after `timeoutMs`, false); for start-up and tests. */
  async waitUntilConnected(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.subscribed && !this.closed && Date.now() < deadline) await sleep(20);
    return this.subscribed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscribed = false;
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }

  private async resubscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel);
    } catch (err) {
      this.options.logger.warn({ err }, 'cache invalidation channel: subscribe failed; retrying on reconnect');
      return;
    }
    if (this.subscribed || this.closed) return;
    this.subscribed = true;
    for (const listener of this.allListeners()) listener.restored();
  }

  private markLost(): void {
    if (!this.subscribed) return;
    this.subscribed = false;
    if (!this.closed) this.options.logger.warn({ channel: this.channel }, 'cache invalidation channel lost; local cache entries kept briefly until it is back');
    for (const listener of this.allListeners()) listener.lost();
  }

  private allListeners(): InvalidationListener[] {
    return [...this.listeners.values()].flat();
  }
}
