import { LIMITS, newId, notFound, validationError, type Clock } from '@agora/kernel';
import { catalog } from '@agora/contracts';
import { encodeCursor, type CursorPosition } from '../domain/cursor.js';
import { normalizeFields, normalizeVariants, type ProductData } from '../domain/product.js';
import { listingOf, type Listing } from '../domain/listing.js';
import { productImage } from '../domain/image.js';
import type { CatalogRepository, ListedProduct, ProductChanges } from './ports.js';
import { VariantCache, type VariantCacheOptions } from './variant-cache.js';

const SKU = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function toCatalogProduct(product: ProductData): catalog.CatalogProduct {
  return {
    id: product.id,
    name: product.name,
    description: product.description,
    category: product.category,
    variants: product.variants.map((v) => ({ sku: v.sku, title: v.title, price: { amount: v.price.amount, currency: v.price.currency } })),
    image: productImage(product),
    createdAt: product.createdAt.toISOString(),
    updatedAt: product.updatedAt.toISOString(),
  };
}

/** Where the page after `last` starts, in `sort`'s order. */
function positionOf(sort: catalog.ProductSort, last: ListedProduct): CursorPosition {
  const id = last.product.id;
  if (sort === 'newest') return { sort, id };
  if (sort === 'name') return { sort, id, key: String(last.key) };
  return { sort, id, key: Number(last.key) };
}

/** The catalog's use cases; the HTTP layer has already checked the shapes and the caller. */
export class CatalogService {
  /** Serves `bySkus`; every write below invalidates it once the write is done (or failed). */
  private readonly variants: VariantCache;

  constructor(
    private readonly repository: CatalogRepository,
    private readonly clock: Clock,
    variantCache: VariantCacheOptions = {},
    /** Told the ids a write touched once it committed or failed (the storefront caches drop them). */
    private readonly afterWrite: (ids: string[]) => Promise<void> = async () => undefined,
  ) {
    this.variants = new VariantCache(clock, variantCache);
  }

  /** A page of the query with the number of products it matches (two queries: the page and the count). */
  async list(query: catalog.ProductQuery): Promise<catalog.CatalogProductPage> {
    const listing = listingOf(query);
    const [page, total] = await Promise.all([this.page(listing), this.count(listing)]);
    return { ...page, total };
  }

  /** One page of a checked listing, without the count (the storefront caches that on its own). */
  async page(listing: Listing): Promise<catalog.CatalogProductPage> {
    if (listing.empty) return { items: [], nextCursor: null };
    const rows = await this.repository.list({ ...listing, limit: listing.limit + 1 });
    const page = rows.slice(0, listing.limit);
    const last = page.at(-1);
    return {
      items: page.map((row) => toCatalogProduct(row.product)),
      nextCursor: rows.length > listing.limit && last ? encodeCursor(positionOf(listing.sort, last)) : null,
    };
  }

  /** How many products the listing matches, across its pages. */
  async count(listing: Listing): Promise<number> {
    return listing.empty ? 0 : this.repository.count(listing.match);
  }

  async get(id: string): Promise<catalog.CatalogProduct> {
    const product = await this.repository.get(id.toLowerCase());
    if (!product) throw notFound(`Product ${id}`);
    return toCatalogProduct(product);
  }

  async create(body: catalog.CreateProductBody): Promise<catalog.CatalogProduct> {
    const fields = normalizeFields({ name: body.name, description: body.description, category: body.category });
    const variants = normalizeVariants(body.variants);
    const now = this.clock.now();
    const product: ProductData = { id: newId(), ...fields, variants, createdAt: now, updatedAt: now };
    try {
      await this.repository.insert(product);
    } finally {
      // A lookup may have cached this product's SKUs as unknown.
      this.variants.invalidate();
      await this.afterWrite([product.id]);
    }
    return toCatalogProduct(product);
  }

  async update(id: string, body: catalog.UpdateProductBody): Promise<catalog.CatalogProduct> {
    // Unknown members were stripped by validation; a body of nothing but those changes nothing.
    if (body.name === undefined && body.description === undefined && body.category === undefined && body.variants === undefined) {
      throw validationError([{ path: 'body', message: 'must contain at least one of name, description, category, variants' }]);
    }
    const fields = normalizeFields({
      ...(body.name === undefined ? {} : { name: body.name }),
      ...(body.description === undefined ? {} : { description: body.description }),
      ...(body.category === undefined ? {} : { category: body.category }),
    });
    const changes: ProductChanges = { ...fields, updatedAt: this.clock.now() };
    if (body.variants !== undefined) changes.variants = normalizeVariants(body.variants);
    let product: ProductData | undefined;
    try {
      product = await this.repository.update(id.toLowerCase(), changes);
    } finally {
      this.variants.invalidate();
      await this.afterWrite([id.toLowerCase()]);
    }
    if (!product) throw notFound(`Product ${id}`);
    return toCatalogProduct(product);
  }

  /**
   * Variants of the SKUs asked for, in that order, each once; unknown SKUs are left out. Answered
   * from `VariantCache`: up to `VARIANT_CACHE_TTL_MS` old for writes made through other instances.
   */
  async bySkus(skusParam: string): Promise<catalog.SkuVariantList> {
    const skus = [...new Set(skusParam.split(',').map((s) => s.trim()).filter((s) => s.length > 0))];
    if (skus.length === 0) throw validationError([{ path: 'skus', message: 'must name at least one SKU' }]);
    if (skus.length > catalog.SKU_LOOKUP_MAX) throw validationError([{ path: 'skus', message: `must name at most ${catalog.SKU_LOOKUP_MAX} SKUs` }]);
    const malformed = skus.find((s) => s.length > LIMITS.skuChars || !SKU.test(s));
    if (malformed !== undefined) throw validationError([{ path: 'skus', message: `"${malformed.slice(0, LIMITS.skuChars)}" is not a SKU` }]);
    const found = await this.variants.lookup(skus, (missing) => this.repository.variantsBySku(missing));
    const items: catalog.SkuVariant[] = [];
    for (const sku of skus) {
      const v = found.get(sku);
      if (v) items.push({ sku: v.sku, productId: v.productId, productName: v.productName, title: v.title, price: { amount: v.price.amount, currency: v.price.currency } });
    }
    return { items };
  }

  /** Other products of the product's category, nearest in price first; NOT_FOUND when there is no such product. */
  async related(id: string, limit: number = catalog.RELATED_PRODUCTS_DEFAULT): Promise<catalog.CatalogRelatedProducts> {
    if (!Number.isInteger(limit) || limit < 1 || limit > catalog.RELATED_PRODUCTS_MAX) throw validationError([{ path: 'limit', message: `must be an integer in 1..${catalog.RELATED_PRODUCTS_MAX}` }]);
    const product = await this.repository.get(id.toLowerCase());
    if (!product) throw notFound(`Product ${id}`);
    return { items: (await this.repository.related(product, limit)).map(toCatalogProduct) };
  }

  async categories(): Promise<catalog.CategoryList> {
    return { items: await this.repository.categories() };
  }
}
