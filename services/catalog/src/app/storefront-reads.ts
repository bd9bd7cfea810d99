import { setTimeout as sleep } from 'node:timers/promises';
import { notFound } from '@agora/kernel';
import type { StorefrontText, catalog } from '@agora/contracts';
import type { Logger, TieredCache } from '@agora/platform';
import { listingOf, matchKey, pageKey, type Listing } from '../domain/listing.js';
import type { ProductData } from '../domain/product.js';
import { toCatalogProduct, type CatalogService } from './catalog-service.js';
import type { AvailabilitySource, CatalogRepository } from './ports.js';

/** The caches of the storefront reads: products by id, and pages as lists of ids by query. */
export interface StorefrontCaches {
  products: TieredCache;
  pages: TieredCache;
}

/** A page as cached: its product ids in order and the cursor; the products come from their own entries. */
interface PageEntry {
  ids: string[];
  nextCursor: string | null;
}

/** Thrown by a product load when inventory did not answer: the product is served, but not cached. */
class WithoutAvailability extends Error {
  constructor(readonly products: ReadonlyMap<string, string>) {
    super('product read without live availability');
  }
}

/**
 * What a shopper reads, as JSON text ready to send: a product with each variant's `available`, and
 * pages of them. Behind the tiered cache when it is on (docs/caching.md), straight from the
 * database and inventory when it is off. A product whose availability inventory could not give is
 * answered without `available` (the gateway then asks inventory itself, or serves the read degraded)
 * and never cached.
 */
/** How long stock facts are gathered before one lookup of their products (well inside the 1 s staleness bound). */
export const STOCK_INVALIDATION_COALESCE_MS = 50;

export class StorefrontReads {
  /** SKUs of stock facts waiting for the next lookup, and that lookup. */
  private readonly stockSkus = new Set<string>();
  private stockFlush: Promise<void> | undefined;

  constructor(
    private readonly repository: CatalogRepository,
    private readonly service: CatalogService,
    private readonly availability: AvailabilitySource,
    private readonly caches: StorefrontCaches | undefined,
    private readonly logger: Logger,
  ) {}

  /** The product's JSON; NOT_FOUND when there is none. */
  async product(id: string): Promise<StorefrontText> {
    const key = id.toLowerCase();
    let json: string | undefined;
    let withAvailability = true;
    try {
      // The hot path: one L1 lookup, no batch bookkeeping (only products with availability are cached).
      json = this.caches === undefined ? await this.loadOne(key) : await this.caches.products.get(key, (k) => this.loadOne(k));
    } catch (err) {
      if (!(err instanceof WithoutAvailability)) throw err;
      json = err.products.get(key);
      withAvailability = false;
    }
    if (json === undefined) throw notFound(`Product ${id}`);
    return { json, withAvailability };
  }

  /**
   * A page's JSON (`{ items, nextCursor, total }`), the items in the page's order. The query is
   * checked first (a 400 is never cached). Pages are cached by their checked listing (match, sort,
   * limit, cursor position); the total by the match alone, so every page and sort of one search
   * shares one count query.
   */
  async page(query: catalog.ProductQuery): Promise<StorefrontText> {
    const listing = listingOf(query);
    if (this.caches === undefined) return this.pageUncached(listing);
    const caches = this.caches;
    const loadPage = async (): Promise<string> => {
      const page = await this.service.page(listing);
      const entry: PageEntry = { ids: page.items.map((p) => p.id), nextCursor: page.nextCursor };
      return JSON.stringify(entry);
    };
    const loadTotal = async (): Promise<string> => String(await this.service.count(listing));
    const [text, totalText] = await Promise.all([
      caches.pages.get(`page:${pageKey(listing)}`, loadPage),
      caches.pages.get(`total:${matchKey(listing.match)}`, loadTotal),
    ]);
    if (text === undefined || totalText === undefined) throw new Error('a page load answered nothing');
    const entry = JSON.parse(text) as PageEntry;
    const { products, withAvailability } = await this.productsById(entry.ids);
    // A product gone since the page was cached is left out (the page's generation moves on the next write).
    const items = entry.ids.flatMap((id) => products.get(id) ?? []);
    return { json: `{"items":[${items.join(',')}],"nextCursor":${JSON.stringify(entry.nextCursor)},"total":${Number(totalText)}}`, withAvailability };
  }

  /** With the cache off: the page's products as listed, and one inventory call for all of them. */
  private async pageUncached(listing: Listing): Promise<StorefrontText> {
    const [page, total] = await Promise.all([this.service.page(listing), this.service.count(listing)]);
    let levels: Map<string, number> | undefined;
    try {
      levels = await this.availability.levels(page.items.flatMap((p) => p.variants.map((v) => v.sku)));
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, dependency: 'inventory' }, 'page read without live availability');
    }
    const items = levels === undefined ? page.items : page.items.map((p) => enrich(p, levels));
    return { json: JSON.stringify({ items, nextCursor: page.nextCursor, total }), withAvailability: levels !== undefined };
  }

  /** After a write to these products committed (or failed): their entries and every page go. */
  async catalogChanged(ids: readonly string[]): Promise<void> {
    if (this.caches === undefined) return;
    await Promise.all([this.caches.products.invalidate(ids), this.caches.pages.invalidateAll()]);
  }

  /** After inventory reports new levels for these SKUs: the products holding them go. */
  async stockChanged(skus: readonly string[]): Promise<void> {
    if (this.caches === undefined || skus.length === 0) return;
    for (const sku of skus) this.stockSkus.add(sku);
    // Facts arriving within STOCK_INVALIDATION_COALESCE_MS share one lookup (every checkout moves
    // stock: one query per fact would cost a query per checkout).
    this.stockFlush ??= sleep(STOCK_INVALIDATION_COALESCE_MS).then(async () => {
      const batch = [...this.stockSkus];
      this.stockSkus.clear();
      this.stockFlush = undefined;
      const caches = this.caches;
      if (caches === undefined) return;
      // Read from the database, not the variant cache: a SKU moved to another product through another
      // instance would otherwise invalidate its old product for up to that cache's TTL.
      const variants = await this.repository.variantsBySku(batch);
      await caches.products.invalidate([...new Set(variants.map((v) => v.productId))]);
    });
    return this.stockFlush;
  }

  private async productsById(ids: readonly string[]): Promise<{ products: Map<string, string | undefined>; withAvailability: boolean }> {
    if (ids.length === 0) return { products: new Map(), withAvailability: true };
    try {
      const products = this.caches === undefined ? await this.load(ids) : await this.caches.products.getMany(ids, (missing) => this.load(missing));
      return { products, withAvailability: true };
    } catch (err) {
      if (!(err instanceof WithoutAvailability)) throw err;
      // Served as read, cached nowhere: the next read asks inventory again.
      const found = new Map<string, string | undefined>(err.products);
      if (found.size < ids.length && this.caches !== undefined) {
        // Others of the ids came from the cache; read them again (they are there now or load afresh).
        for (const [id, json] of await this.caches.products.getMany(ids.filter((id) => !found.has(id)), (missing) => this.loadAnyway(missing))) found.set(id, json);
      }
      return { products: found, withAvailability: false };
    }
  }

  /** Products as JSON with availability; throws WithoutAvailability (carrying them) when inventory fails. */
  private async load(ids: readonly string[]): Promise<Map<string, string>> {
    const products = await this.repository.getMany(ids);
    let levels: Map<string, number>;
    try {
      levels = await this.availability.levels(products.flatMap((p) => p.variants.map((v) => v.sku)));
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, dependency: 'inventory' }, 'product read without live availability');
      throw new WithoutAvailability(new Map(products.map((p) => [p.id, JSON.stringify(toCatalogProduct(p))])));
    }
    return new Map(products.map((p) => [p.id, JSON.stringify(withAvailability(p, levels))]));
  }

  /** One product for the cache; without availability it is answered through the error and not stored. */
  private async loadOne(id: string): Promise<string | undefined> {
    return (await this.load([id])).get(id);
  }

  private async loadAnyway(ids: readonly string[]): Promise<Map<string, string>> {
    try {
      return await this.load(ids);
    } catch (err) {
      if (err instanceof WithoutAvailability) return new Map(err.products);
      throw err;
    }
  }
}

function enrich(base: catalog.CatalogProduct, levels: ReadonlyMap<string, number>): catalog.Product {
  return { ...base, variants: base.variants.map((v) => ({ ...v, available: levels.get(v.sku) ?? 0 })) };
}

function withAvailability(product: ProductData, levels: ReadonlyMap<string, number>): catalog.Product {
  return enrich(toCatalogProduct(product), levels);
}
