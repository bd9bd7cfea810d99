import { randomUUID } from 'node:crypto';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { CacheMetrics } from './cache-metrics.js';
import type { CacheInvalidation, InvalidationChannel } from './invalidation.js';
import { InvalidationSender } from './invalidation-sender.js';
import type { L2Store } from './l2.js';
import { createL1Store, type L1Policy, type L1Store } from './policies.js';
import { SingleFlight, type Flight } from './single-flight.js';
import { jitteredTtl } from './ttl.js';

export const TIERED_CACHE_DEFAULTS = {
  policy: 'lru' as L1Policy,
  maxEntries: 10_000,
  /** L1 lifetime: invalidation, not expiry, keeps entries right; expiry only bounds a lost message's harm. */
  ttlMs: 60_000,
  /** L2 lifetime: bounds how long a value written by a process that died mid-invalidation survives. */
  l2TtlMs: 300_000,
  /** "No such key" is kept briefly: ids are made by the service, so a miss turns into a hit only through a write, which invalidates. */
  negativeTtlMs: 10_000,
  jitterRatio: 0.1,
  /**
   * The staleness bound while invalidations cannot be trusted (the channel is down): L1 entries then
   * live at most this long. Also the period at which failed invalidations are retried.
   */
  staleBoundMs: 1_000,
  /**
   * A load that read the old value just before a write committed can put it into L2 just after the
   * write deleted it. Deleting (and broadcasting) once more this much later removes it.
   */
  secondDeleteDelayMs: 500,
} as const;

export const TIERED_CACHE_LIMITS = { keysPerCall: 1_000 } as const;

const CACHE_NAME = /^[a-z][a-z0-9-]{0,47}$/;
/** Stored for "the source has no such key"; real values are never empty. */
const ABSENT = '';

export interface TieredCacheOptions {
  /** Names the metrics' `cache` label, the L2 keys and the invalidation messages. */
  name: string;
  policy?: L1Policy;
  maxEntries?: number;
  l2?: L2Store;
  /** Required with `l2`: other instances' L1 entries must hear of changes. */
  channel?: InvalidationChannel;
  ttlMs?: number;
  l2TtlMs?: number;
  negativeTtlMs?: number;
  jitterRatio?: number;
  staleBoundMs?: number;
  secondDeleteDelayMs?: number;
  metrics?: Metrics;
  logger?: Logger;
  now?: () => number;
  random?: () => number;
}

type Loaded = string | undefined;

/**
 * Cache-aside over two tiers: L1 in this process (LRU, LFU or FIFO), L2 shared (Redis) when
 * configured. A miss in both runs the loader once per key however many callers wait (single-flight),
 * and stores the answer, "absent" included, with a jittered TTL. Values are strings: the form they
 * are sent in and kept in Redis.
 *
 * Invalidation: `invalidate(keys)` drops keys here, in L2 and, through the channel, in every other
 * instance's L1; `invalidateAll()` starts a new generation (L2 keys carry it, so older entries are
 * unreachable at once). A load that overlaps an invalidation of its key answers its callers but
 * stores nothing. While the channel is down, L1 entries live at most `staleBoundMs`, and every L2
 * failure falls back to L1 or the loader: the cache never turns an outage into an error.
 */
export class TieredCache {
  readonly name: string;
  readonly policy: L1Policy;
  private readonly l1: L1Store;
  private readonly l2: L2Store | undefined;
  private readonly channel: InvalidationChannel | undefined;
  private readonly flights = new SingleFlight<Loaded>();
  private readonly metrics: CacheMetrics;
  private readonly settings: Required<Pick<TieredCacheOptions, 'ttlMs' | 'l2TtlMs' | 'negativeTtlMs' | 'jitterRatio' | 'staleBoundMs' | 'secondDeleteDelayMs'>>;
  private readonly now: () => number;
  private readonly random: () => number;
  private generation = 0;
  /** False while invalidations may be missed: L1 entries are then kept only `staleBoundMs`. */
  private trusted: boolean;
  private readonly sender: InvalidationSender;
  /** Names this instance's messages, so that it skips its own echo. */
  private readonly instance = randomUUID();
  private closed = false;

  constructor(private readonly options: TieredCacheOptions) {
    if (!CACHE_NAME.test(options.name)) throw new Error(`cache name must match ${CACHE_NAME.source}, got "${options.name}"`);
    if (options.l2 !== undefined && options.channel === undefined) throw new Error(`cache ${options.name}: an L2 needs an invalidation channel`);
    this.name = options.name;
    this.policy = options.policy ?? TIERED_CACHE_DEFAULTS.policy;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.metrics = new CacheMetrics(options.name, this.policy, options.metrics);
    this.l1 = createL1Store(this.policy, { maxEntries: options.maxEntries ?? TIERED_CACHE_DEFAULTS.maxEntries, now: this.now, onEvict: () => this.metrics.eviction.inc() });
    this.l2 = options.l2;
    this.channel = options.channel;
    this.settings = {
      ttlMs: options.ttlMs ?? TIERED_CACHE_DEFAULTS.ttlMs,
      l2TtlMs: options.l2TtlMs ?? TIERED_CACHE_DEFAULTS.l2TtlMs,
      negativeTtlMs: options.negativeTtlMs ?? TIERED_CACHE_DEFAULTS.negativeTtlMs,
      jitterRatio: options.jitterRatio ?? TIERED_CACHE_DEFAULTS.jitterRatio,
      staleBoundMs: options.staleBoundMs ?? TIERED_CACHE_DEFAULTS.staleBoundMs,
      secondDeleteDelayMs: options.secondDeleteDelayMs ?? TIERED_CACHE_DEFAULTS.secondDeleteDelayMs,
    };
    for (const [name, value] of Object.entries(this.settings)) {
      if (name !== 'jitterRatio' && (!Number.isFinite(value) || value <= 0)) throw new Error(`cache ${options.name}: ${name} must be a positive number of ms, got ${value}`);
    }
    jitteredTtl(this.settings.ttlMs, this.settings.jitterRatio);
    this.sender = new InvalidationSender({
      cache: this.name,
      source: this.instance,
      l2: this.l2,
      channel: this.channel,
      metrics: this.metrics,
      logger: options.logger,
      retryMs: this.settings.staleBoundMs,
      secondDeleteDelayMs: this.settings.secondDeleteDelayMs,
      l2Key: (key) => this.l2Key(key),
      newGeneration: () => this.invalidateAll(),
    });
    this.trusted = this.channel?.connected ?? true;
    this.channel?.listen(options.name, {
      message: (m) => this.applyRemote(m),
      lost: () => this.lose(),
      restored: () => void this.restore(),
    });
  }

  /** Adopts the shared generation (call once before serving; a failure leaves the local one). */
  async start(): Promise<void> {
    await this.syncGeneration();
  }

  /** The value of `key`, from L1, L2 or `load` (undefined: the source has none). */
  async get(key: string, load: (key: string) => Promise<Loaded>): Promise<Loaded> {
    const local = this.l1.get(key);
    if (local !== undefined) {
      this.metrics.l1Hit.inc();
      return local === ABSENT ? undefined : local;
    }
    this.metrics.l1Miss.inc();
    return this.flights.run(key, (flight) => this.fillOne(key, flight, load)).promise;
  }

  /**
   * Values of many keys at once: L1 first, then one L2 read and one `loadMany` call for the keys
   * missing everywhere (keys another caller is already loading wait for that load instead).
   */
  async getMany(keys: readonly string[], loadMany: (keys: string[]) => Promise<ReadonlyMap<string, string>>): Promise<Map<string, Loaded>> {
    if (keys.length > TIERED_CACHE_LIMITS.keysPerCall) throw new Error(`cache ${this.name}: getMany takes at most ${TIERED_CACHE_LIMITS.keysPerCall} keys, got ${keys.length}`);
    const found = new Map<string, Loaded>();
    const waiting: [string, Flight<Loaded>][] = [];
    const mine: [string, Flight<Loaded>][] = [];
    let release: (loaded: Map<string, Loaded>) => void = () => undefined;
    let fail: (err: unknown) => void = () => undefined;
    const batch = new Promise<Map<string, Loaded>>((resolve, reject) => {
      release = resolve;
      fail = reject;
    });
    // A batch nobody else joined still has its rejection handled by the callers below.
    batch.catch(() => undefined);
    for (const key of new Set(keys)) {
      const local = this.l1.get(key);
      if (local !== undefined) {
        this.metrics.l1Hit.inc();
        found.set(key, local === ABSENT ? undefined : local);
        continue;
      }
      this.metrics.l1Miss.inc();
      let started = false;
      const flight = this.flights.run(key, async () => {
        started = true;
        return (await batch).get(key);
      });
      (started ? mine : waiting).push([key, flight]);
    }
    if (mine.length > 0) this.fillMany(mine, loadMany).then(release, fail);
    // All at once: awaiting one flight after another would leave the others' rejections (a failed
    // load fails every key of the batch) unhandled, and Node exits on an unhandled rejection.
    const flights = [...mine, ...waiting];
    const values = await Promise.all(flights.map(([, flight]) => flight.promise));
    flights.forEach(([key], i) => found.set(key, values[i]));
    return found;
  }

  /** Drops `keys` here, in L2 and in every instance's L1 (and again `secondDeleteDelayMs` later). */
  async invalidate(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    this.dropLocal(keys);
    this.metrics.invalidatedLocal.inc();
    await this.sender.dropKeys(keys);
  }

  /** Starts a new generation everywhere: every entry of this cache, in every tier, is gone. */
  async invalidateAll(): Promise<void> {
    this.metrics.invalidatedLocal.inc();
    this.adoptGeneration(await this.sender.nextGeneration(this.generationKey(), this.generation));
    await this.sender.publish({ cache: this.name, keys: [], generation: this.generation, source: this.instance });
  }

  /** Entries in L1 now (for tests and the admin). */
  get size(): number {
    return this.l1.size;
  }

  get currentGeneration(): number {
    return this.generation;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sender.close();
    this.flights.invalidateAll();
    this.l1.clear();
  }

  private async fillOne(key: string, flight: Flight<Loaded>, load: (key: string) => Promise<Loaded>): Promise<Loaded> {
    const generation = this.generation;
    const [shared] = await this.readL2([key]);
    if (shared !== undefined) {
      this.storeL1(key, shared, flight, generation);
      return shared === ABSENT ? undefined : shared;
    }
    let value: Loaded;
    try {
      value = await load(key);
    } catch (err) {
      this.metrics.loadError.inc();
      throw err;
    }
    (value === undefined ? this.metrics.loadAbsent : this.metrics.loadFound).inc();
    await this.store(key, value ?? ABSENT, flight, generation);
    return value;
  }

  private async fillMany(flights: [string, Flight<Loaded>][], loadMany: (keys: string[]) => Promise<ReadonlyMap<string, string>>): Promise<Map<string, Loaded>> {
    const generation = this.generation;
    const keys = flights.map(([key]) => key);
    const shared = await this.readL2(keys);
    const out = new Map<string, Loaded>();
    const missing: [string, Flight<Loaded>][] = [];
    flights.forEach(([key, flight], i) => {
      const value = shared[i];
      if (value === undefined) return void missing.push([key, flight]);
      this.storeL1(key, value, flight, generation);
      out.set(key, value === ABSENT ? undefined : value);
    });
    if (missing.length === 0) return out;
    let loaded: ReadonlyMap<string, string>;
    try {
      loaded = await loadMany(missing.map(([key]) => key));
    } catch (err) {
      this.metrics.loadError.inc();
      throw err;
    }
    await Promise.all(
      missing.map(async ([key, flight]) => {
        const value = loaded.get(key);
        (value === undefined ? this.metrics.loadAbsent : this.metrics.loadFound).inc();
        out.set(key, value);
        await this.store(key, value ?? ABSENT, flight, generation);
      }),
    );
    return out;
  }

  private async readL2(keys: readonly string[]): Promise<(string | undefined)[]> {
    if (this.l2 === undefined || keys.length === 0) return keys.map(() => undefined);
    try {
      const values = await this.l2.mget(keys.map((k) => this.l2Key(k)));
      for (const v of values) (v === undefined ? this.metrics.l2Miss : this.metrics.l2Hit).inc();
      return values;
    } catch {
      this.metrics.l2Error('read');
      return keys.map(() => undefined);
    }
  }

  private async store(key: string, value: string, flight: Flight<Loaded>, generation: number): Promise<void> {
    if (flight.stale || generation !== this.generation) return;
    this.storeL1(key, value, flight, generation);
    if (this.l2 === undefined) return;
    const ttl = value === ABSENT ? this.settings.negativeTtlMs : this.settings.l2TtlMs;
    try {
      await this.l2.set(this.l2Key(key), value, jitteredTtl(ttl, this.settings.jitterRatio, this.random));
    } catch {
      this.metrics.l2Error('write');
    }
  }

  private storeL1(key: string, value: string, flight: Flight<Loaded>, generation: number): void {
    if (flight.stale || generation !== this.generation || this.closed) return;
    let ttl = jitteredTtl(value === ABSENT ? this.settings.negativeTtlMs : this.settings.ttlMs, this.settings.jitterRatio, this.random);
    if (!this.trusted) ttl = Math.min(ttl, this.settings.staleBoundMs);
    this.l1.set(key, value, ttl);
  }

  private applyRemote(message: CacheInvalidation): void {
    if (message.source === this.instance) return;
    this.metrics.invalidatedRemote.inc();
    if (message.generation !== undefined) {
      // With L2 the generation is one shared counter; without it each instance counts its own,
      // and any new generation elsewhere means a new one here.
      if (this.l2 === undefined) this.adoptGeneration(Math.max(this.generation + 1, message.generation));
      else if (message.generation > this.generation) this.adoptGeneration(message.generation);
    }
    this.dropLocal(message.keys);
  }

  private dropLocal(keys: readonly string[]): void {
    for (const key of keys) {
      this.l1.delete(key);
      this.flights.invalidate(key);
    }
  }

  private adoptGeneration(generation: number): void {
    this.generation = generation;
    this.l1.clear();
    this.flights.invalidateAll();
  }

  private lose(): void {
    this.trusted = false;
    this.l1.clear();
    this.flights.invalidateAll();
  }

  private async restore(): Promise<void> {
    this.l1.clear();
    this.flights.invalidateAll();
    await this.sender.flush();
    await this.syncGeneration();
    // Anything stored between the first clear and now may predate a message missed meanwhile.
    this.l1.clear();
    this.trusted = this.channel?.connected ?? true;
  }

  private async syncGeneration(): Promise<void> {
    if (this.l2 === undefined) return;
    try {
      const shared = Number((await this.l2.get(this.generationKey())) ?? '0');
      if (Number.isSafeInteger(shared) && shared !== this.generation) this.adoptGeneration(Math.max(shared, 0));
    } catch {
      this.metrics.l2Error('generation');
    }
  }

  private l2Key(key: string): string {
    return `${this.name}:${this.generation}:${key}`;
  }

  private generationKey(): string {
    return `${this.name}:generation`;
  }
}
