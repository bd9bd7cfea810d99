import type { Clock } from '@agora/kernel';
import type { VariantWithProduct } from './ports.js';

/**
 * How long a looked-up variant (or a SKU's absence) is answered from memory. Short on purpose: a
 * price change made through another catalog instance cannot invalidate this one's entries, so it
 * reaches checkouts served here only when they expire; two seconds keeps a repriced item from being
 * sold at the old price for longer than a shopper's click, while a checkout burst (cart views,
 * add-to-carts, the order's price snapshot) still reads each SKU from the database about once.
 */
export const VARIANT_CACHE_TTL_MS = 2_000;

/** Entries held at most; past it the oldest entry goes. About 2 MB at ~200 bytes an entry. */
export const VARIANT_CACHE_MAX_ENTRIES = 10_000;

interface Entry {
  /** Null caches "no such SKU", so repeated lookups of a dropped SKU skip the database too. */
  variant: VariantWithProduct | null;
  expiresAt: number;
}

export interface VariantCacheOptions {
  ttlMs?: number;
  maxEntries?: number;
}

/**
 * The SKU→variant lookup the cart and the order service make on every view and checkout, served
 * from memory for `ttlMs`. `invalidate` (called after every write this instance makes to products,
 * variants or prices) drops everything at once; a lookup that was already reading the database
 * when it was called does not store what it read, so it cannot put the old price back.
 */
export class VariantCache {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly clock: Clock,
    options: VariantCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? VARIANT_CACHE_TTL_MS;
    this.maxEntries = options.maxEntries ?? VARIANT_CACHE_MAX_ENTRIES;
    if (!Number.isSafeInteger(this.ttlMs) || this.ttlMs < 0) throw new Error(`variant cache TTL must be a non-negative integer of ms, got ${this.ttlMs}`);
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries < 1) throw new Error(`variant cache size must be a positive integer, got ${this.maxEntries}`);
  }

  /** The variants of `skus` (absent when unknown); only the SKUs not fresh in memory go to `load`. */
  async lookup(skus: readonly string[], load: (missing: string[]) => Promise<VariantWithProduct[]>): Promise<Map<string, VariantWithProduct>> {
    const now = this.clock.now().getTime();
    const found = new Map<string, VariantWithProduct>();
    const missing: string[] = [];
    for (const sku of skus) {
      const entry = this.entries.get(sku);
      if (entry && entry.expiresAt > now) {
        if (entry.variant) found.set(sku, entry.variant);
      } else {
        if (entry) this.entries.delete(sku);
        missing.push(sku);
      }
    }
    if (missing.length === 0) return found;
    const generation = this.generation;
    const loaded = new Map((await load(missing)).map((v) => [v.sku, v]));
    const store = generation === this.generation;
    const expiresAt = this.clock.now().getTime() + this.ttlMs;
    for (const sku of missing) {
      const variant = loaded.get(sku);
      if (variant) found.set(sku, variant);
      if (store) this.put(sku, { variant: variant ?? null, expiresAt });
    }
    return found;
  }

  /** Forgets every entry, and whatever a lookup already in flight read. */
  invalidate(): void {
    this.generation++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private put(sku: string, entry: Entry): void {
    this.entries.delete(sku);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(sku, entry);
    if (this.entries.size > this.maxEntries) throw new Error(`variant cache holds ${this.entries.size} entries, past ${this.maxEntries}`);
  }
}
