import { LRUCache } from 'lru-cache';

/**
 * The in-process tier (L1): a bounded map with a replacement policy and a TTL per entry. An entry
 * older than its TTL (alive at exactly TTL ms, gone after, as lru-cache counts) is dropped when
 * read; a full store evicts one entry per insert, chosen by its policy, and reports it through
 * `onEvict` (the cache counts evictions per policy).
 */
export interface L1Store {
  readonly policy: L1Policy;
  get(key: string): string | undefined;
  set(key: string, value: string, ttlMs: number): void;
  delete(key: string): void;
  clear(): void;
  readonly size: number;
}

export const L1_POLICIES = ['lru', 'lfu', 'fifo'] as const;
export type L1Policy = (typeof L1_POLICIES)[number];

export interface L1StoreOptions {
  maxEntries: number;
  /** Milliseconds now; the cache's clock (tests move it). */
  now: () => number;
  /** Called once per entry pushed out to make room (not for expiry, delete or clear). */
  onEvict?: (key: string) => void;
}

/** Bounds on an L1 store: past ~1M entries a process should use L2 instead. */
export const L1_LIMITS = { maxEntriesMax: 1_000_000 } as const;

function checkOptions(options: L1StoreOptions): void {
  if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1 || options.maxEntries > L1_LIMITS.maxEntriesMax) {
    throw new Error(`L1 maxEntries must be an integer in 1..${L1_LIMITS.maxEntriesMax}, got ${options.maxEntries}`);
  }
}

function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new Error(`L1 TTL must be a positive number of ms, got ${ttlMs}`);
}

export function createL1Store(policy: L1Policy, options: L1StoreOptions): L1Store {
  switch (policy) {
    case 'lru':
      return new LruStore(options);
    case 'lfu':
      return new LfuStore(options);
    case 'fifo':
      return new FifoStore(options);
  }
}

/** Least recently used, by `lru-cache` (the production default: recency fits browsing traffic). */
export class LruStore implements L1Store {
  readonly policy = 'lru';
  private readonly lru: LRUCache<string, string>;

  constructor(options: L1StoreOptions) {
    checkOptions(options);
    const onEvict = options.onEvict;
    this.lru = new LRUCache<string, string>({
      max: options.maxEntries,
      ttlAutopurge: false,
      // Read the clock on every check (the default caches it for 1 ms through a timer).
      ttlResolution: 0,
      // lru-cache reads its own clock; ours is handed in so that tests can move time.
      perf: { now: options.now },
      ...(onEvict === undefined ? {} : { dispose: (_value: string, key: string, reason: LRUCache.DisposeReason) => void (reason === 'evict' && onEvict(key)) }),
    });
  }

  get(key: string): string | undefined {
    return this.lru.get(key);
  }

  set(key: string, value: string, ttlMs: number): void {
    checkTtl(ttlMs);
    this.lru.set(key, value, { ttl: ttlMs });
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }
}

interface TimedEntry {
  value: string;
  expiresAt: number;
}

/** First in, first out: a Map keeps insertion order, so the oldest insert is its first key. */
export class FifoStore implements L1Store {
  readonly policy = 'fifo';
  private readonly entries = new Map<string, TimedEntry>();

  constructor(private readonly options: L1StoreOptions) {
    checkOptions(options);
  }

  get(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt < this.options.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: string, ttlMs: number): void {
    checkTtl(ttlMs);
    // A rewrite counts as a new arrival: it goes to the back of the queue.
    this.entries.delete(key);
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) {
        this.entries.delete(oldest.value);
        this.options.onEvict?.(oldest.value);
      }
    }
    this.entries.set(key, { value, expiresAt: this.options.now() + ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

interface LfuEntry extends TimedEntry {
  uses: number;
}

/**
 * Least frequently used, in O(1): entries sit in one bucket per use count (each bucket a Map in
 * arrival order), and `minUses` names the lowest non-empty bucket. The victim is the oldest entry
 * of that bucket, so ties go to FIFO. A new entry starts at one use; counts are never aged, which
 * is the textbook policy's known weakness (yesterday's hit keeps its place) and why it is here to
 * be compared, not the default.
 */
export class LfuStore implements L1Store {
  readonly policy = 'lfu';
  private readonly entries = new Map<string, LfuEntry>();
  private readonly buckets = new Map<number, Map<string, LfuEntry>>();
  private minUses = 0;

  constructor(private readonly options: L1StoreOptions) {
    checkOptions(options);
  }

  get(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt < this.options.now()) {
      this.remove(key, entry);
      return undefined;
    }
    this.bucket(entry.uses).delete(key);
    if (entry.uses === this.minUses && this.bucket(entry.uses).size === 0) this.minUses++;
    this.dropIfEmpty(entry.uses);
    entry.uses++;
    this.bucket(entry.uses).set(key, entry);
    return entry.value;
  }

  set(key: string, value: string, ttlMs: number): void {
    checkTtl(ttlMs);
    const expiresAt = this.options.now() + ttlMs;
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      existing.value = value;
      existing.expiresAt = expiresAt;
      return;
    }
    if (this.entries.size >= this.options.maxEntries) this.evictOne();
    const entry: LfuEntry = { value, expiresAt, uses: 1 };
    this.entries.set(key, entry);
    this.bucket(1).set(key, entry);
    this.minUses = 1;
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry !== undefined) this.remove(key, entry);
  }

  clear(): void {
    this.entries.clear();
    this.buckets.clear();
    this.minUses = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  private evictOne(): void {
    // minUses can be stale after deletes and expiries; walk up to the first non-empty bucket.
    for (let guard = 0; guard <= this.entries.size && this.buckets.size > 0; guard++) {
      const victims = this.buckets.get(this.minUses);
      const victim = victims?.keys().next();
      if (victim !== undefined && victim.done !== true) {
        const entry = this.entries.get(victim.value);
        if (entry !== undefined) this.remove(victim.value, entry);
        this.options.onEvict?.(victim.value);
        return;
      }
      this.minUses = Math.min(...this.buckets.keys());
    }
    throw new Error(`LFU store holds ${this.entries.size} entries but no bucket names one`);
  }

  private remove(key: string, entry: LfuEntry): void {
    this.entries.delete(key);
    this.bucket(entry.uses).delete(key);
    this.dropIfEmpty(entry.uses);
  }

  private bucket(uses: number): Map<string, LfuEntry> {
    let bucket = this.buckets.get(uses);
    if (bucket === undefined) {
      bucket = new Map();
      this.buckets.set(uses, bucket);
    }
    return bucket;
  }

  private dropIfEmpty(uses: number): void {
    if (this.buckets.get(uses)?.size === 0) this.buckets.delete(uses);
  }
}
