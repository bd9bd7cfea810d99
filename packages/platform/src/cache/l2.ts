import { Redis } from 'ioredis';
import { traceRedis } from '../telemetry/tracing-redis.js';

/**
 * The shared tier (L2): one store every instance reads and fills. Every operation may fail (the
 * server is down or slow); the tiered cache then answers from L1 or the loader, never an error.
 */
export interface L2Store {
  /** Values in the order of `keys`; undefined where absent. */
  mget(keys: readonly string[]): Promise<(string | undefined)[]>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  del(keys: readonly string[]): Promise<void>;
  /** Adds one to an integer key (absent = 0) and returns the new value; for generations. */
  incr(key: string): Promise<number>;
  get(key: string): Promise<string | undefined>;
  close(): Promise<void>;
}

export const REDIS_L2_DEFAULTS = {
  connectTimeoutMs: 2_000,
  /**
   * A cache read slower than this is worse than the database read it saves: give up and load.
   * Generous enough for a busy Redis on a shared machine, far below a request's budget.
   */
  commandTimeoutMs: 250,
  maxReconnectDelayMs: 2_000,
} as const;

/** Keys per MGET/DEL: a page's worth of products and more, without one command growing unbounded. */
export const L2_LIMITS = { keysPerCommand: 500 } as const;

export interface RedisL2Options {
  url: string;
  /** Prepended to every key (`<prefix>:<key>`): clusters or test runs sharing one Redis need one each. */
  prefix: string;
  name?: string;
  commandTimeoutMs?: number;
}

/**
 * A Redis connection for cache commands: no offline queue, so a command fails at once while it is
 * down. `commandTimeoutMs: undefined` gives a connection without ioredis's command timeout: the one
 * for a subscriber, because ioredis re-subscribes on its own after a reconnect and leaves that
 * command's promise unhandled — a timeout there (a paused or starved process) would kill Node.
 */
export function cacheRedisConnection(url: string, name: string, commandTimeoutMs: number | undefined = REDIS_L2_DEFAULTS.commandTimeoutMs): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectionName: name,
    connectTimeout: REDIS_L2_DEFAULTS.connectTimeoutMs,
    ...(commandTimeoutMs === undefined ? {} : { commandTimeout: commandTimeoutMs }),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(times * 100, REDIS_L2_DEFAULTS.maxReconnectDelayMs),
  });
  // Failures are reported by the commands that meet them; an unheard 'error' event would crash.
  redis.on('error', () => undefined);
  return traceRedis(redis);
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += L2_LIMITS.keysPerCommand) out.push(items.slice(i, i + L2_LIMITS.keysPerCommand));
  return out;
}

export class RedisL2Store implements L2Store {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(options: RedisL2Options) {
    this.prefix = options.prefix;
    this.redis = cacheRedisConnection(options.url, options.name ?? 'agora-cache', options.commandTimeoutMs);
    // Connecting in the background: until it is up, commands fail and the cache falls back.
    this.redis.connect().catch(() => undefined);
  }

  async mget(keys: readonly string[]): Promise<(string | undefined)[]> {
    const out: (string | undefined)[] = [];
    for (const part of chunks(keys)) {
      const values = await this.redis.mget(part.map((k) => this.key(k)));
      for (const v of values) out.push(v ?? undefined);
    }
    return out;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.key(key), value, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async del(keys: readonly string[]): Promise<void> {
    for (const part of chunks(keys)) if (part.length > 0) await this.redis.del(part.map((k) => this.key(k)));
  }

  async incr(key: string): Promise<number> {
    return this.redis.incr(this.key(key));
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(key))) ?? undefined;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  private key(key: string): string {
    return `${this.prefix}:${key}`;
  }
}

/** L2 in memory, shared by the caches handed the same instance: tests of several instances in one process. */
export class InMemoryL2Store implements L2Store {
  private readonly values = new Map<string, { value: string; expiresAt: number }>();
  /** Set to make every operation fail, as a Redis that went away does. */
  down = false;

  constructor(private readonly now: () => number = Date.now) {}

  async mget(keys: readonly string[]): Promise<(string | undefined)[]> {
    return keys.map((k) => this.read(k));
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.check();
    this.values.set(key, { value, expiresAt: this.now() + ttlMs });
  }

  async del(keys: readonly string[]): Promise<void> {
    this.check();
    for (const k of keys) this.values.delete(k);
  }

  async incr(key: string): Promise<number> {
    const next = Number(this.read(key) ?? '0') + 1;
    this.values.set(key, { value: String(next), expiresAt: Number.POSITIVE_INFINITY });
    return next;
  }

  async get(key: string): Promise<string | undefined> {
    return this.read(key);
  }

  async close(): Promise<void> {
    this.values.clear();
  }

  private read(key: string): string | undefined {
    this.check();
    const entry = this.values.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.values.delete(key);
      return undefined;
    }
    return entry.value;
  }

  private check(): void {
    if (this.down) throw new Error('L2 store is down');
  }
}
