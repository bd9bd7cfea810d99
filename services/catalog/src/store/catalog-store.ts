import { and, asc, desc, eq, gte, inArray, lt, lte, ne, sql, type SQL } from 'drizzle-orm';
import { PG_UNIQUE_VIOLATION, pgErrorCode, type Executor, type Storage, type Tx } from '@agora/platform';
import { AppError } from '@agora/kernel';
import { skuTaken, type ProductData, type VariantData } from '../domain/product.js';
import type { SearchTerms } from '../domain/search.js';
import type { CursorPosition } from '../domain/cursor.js';
import type { Listing, ListingMatch } from '../domain/listing.js';
import type { CatalogRepository, CategoryCount, ImageFileData, ListedProduct, ProductChanges, VariantWithProduct } from '../app/ports.js';
import type { StoredImage } from '../domain/image.js';
import { productImageFiles, productImages, products, variants } from './schema.js';

const productColumns = {
  id: products.id,
  name: products.name,
  description: products.description,
  category: products.category,
  createdAt: products.createdAt,
  updatedAt: products.updatedAt,
};

type ProductRow = { id: string; name: string; description: string; category: string; createdAt: Date; updatedAt: Date };

/**
 * The text-search condition. Every piece of user text is a bound parameter: `websearch_to_tsquery`
 * takes any string, and the prefix words were reduced to letters and digits before `to_tsquery`.
 * The prefix part is tried with the English stemmer and without one, so that a half-typed word
 * the stemmer would mangle still matches.
 */
export function tsqueryOf(terms: SearchTerms): SQL {
  const web = sql`websearch_to_tsquery('english'::regconfig, ${terms.text}::text)`;
  if (terms.prefixLast === undefined) return web;
  const last = sql`(to_tsquery('english'::regconfig, ${terms.prefixLast}::text) || to_tsquery('simple'::regconfig, ${terms.prefixLast}::text))`;
  const prefix = terms.prefixHead.length > 0 ? sql`(to_tsquery('english'::regconfig, ${terms.prefixHead}::text) && ${last})` : last;
  return sql`(${web} || ${prefix})`;
}

/**
 * Relevance rank, an integer so that a cursor carries it exactly: a full-text match (the words as
 * typed, stemmed or as a prefix) outranks every typo-tolerant one; within a tier, closeness to the
 * name and then to name + description (pg_trgm word_similarity, 0..1, scaled) order them.
 */
const EXACT_TIER = 1_000_000;
const SIMILARITY_SCALE = 1_000;

/**
 * How close (pg_trgm word_similarity, 0..1) a query word must be to a word of the product. One
 * wrong letter in a word of 7 or 8 ("wirless" for "wireless") scores about 0.55; pg_trgm's default
 * of 0.6 would miss it, and below about 0.45 unrelated words sharing a few letters start to match.
 */
const WORD_SIMILARITY_THRESHOLD = 0.5;

/**
 * Full-text match or typo-tolerant match: every word of the query close to a word of the name or
 * description. `<%` is pg_trgm's word similarity above its threshold (set per read to
 * WORD_SIMILARITY_THRESHOLD), answered from the trigram GIN index on search_text.
 */
function searchCondition(terms: SearchTerms): SQL {
  const fullText = sql`${products.search} @@ ${tsqueryOf(terms)}`;
  if (terms.fuzzyWords.length === 0) return fullText;
  const fuzzy = sql.join(terms.fuzzyWords.map((word) => sql`${word}::text <% ${products.searchText}`), sql` and `);
  return sql`(${fullText} or (${fuzzy}))`;
}

function rankOf(terms: SearchTerms): SQL {
  const exact = sql`case when ${products.search} @@ ${tsqueryOf(terms)} then ${sql.raw(String(EXACT_TIER))} else 0 end`;
  const scale = sql.raw(String(SIMILARITY_SCALE));
  return sql`(${exact} + round(${scale} * word_similarity(${terms.text}::text, ${products.name}))::int + round(${scale} * word_similarity(${terms.text}::text, ${products.searchText}))::int)`;
}

/** A product's lowest variant price (kept by triggers, indexed with the id): what price sorts order by. */
const lowestPrice = sql`${products.minPrice}`;
/** Names sort without regard to case (the lowered name is the key; the id breaks ties). */
const sortName = sql`lower(${products.name})`;

function matchConditions(match: ListingMatch): SQL[] {
  const conditions: SQL[] = [];
  if (match.category !== undefined) conditions.push(eq(products.category, match.category));
  if (match.search !== undefined) conditions.push(searchCondition(match.search));
  if (match.minPrice !== undefined || match.maxPrice !== undefined) {
    // One variant within both bounds, not one above the minimum and another below the maximum.
    const bounds = and(
      eq(variants.productId, products.id),
      match.minPrice === undefined ? undefined : gte(variants.priceAmount, match.minPrice),
      match.maxPrice === undefined ? undefined : lte(variants.priceAmount, match.maxPrice),
    );
    conditions.push(sql`exists (select 1 from ${variants} where ${bounds})`);
  }
  return conditions;
}

interface Order {
  /** The value ordered on before the id (null for newest first). */
  key: SQL;
  by: SQL[];
  /** Only rows after the cursor's position, in this order. */
  after(position: CursorPosition): SQL;
  /** The key as the driver returned it, as the cursor carries it. */
  read(raw: unknown): number | string | undefined;
}

function orderOf(listing: Listing): Order {
  const id = products.id;
  const asNumber = (raw: unknown) => Number(raw);
  switch (listing.sort) {
    case 'relevance': {
      const search = listing.match.search;
      if (search === undefined) throw new Error('relevance order without search terms');
      const rank = rankOf(search);
      return { key: rank, by: [sql`${rank} desc`, desc(id)], after: (p) => sql`(${rank}, ${id}) < (${keyOf(p)}::int, ${p.id}::uuid)`, read: asNumber };
    }
    case 'price_asc':
      return { key: lowestPrice, by: [sql`${lowestPrice} asc`, asc(id)], after: (p) => sql`(${lowestPrice}, ${id}) > (${keyOf(p)}::bigint, ${p.id}::uuid)`, read: asNumber };
    case 'price_desc':
      return { key: lowestPrice, by: [sql`${lowestPrice} desc`, desc(id)], after: (p) => sql`(${lowestPrice}, ${id}) < (${keyOf(p)}::bigint, ${p.id}::uuid)`, read: asNumber };
    case 'name':
      return { key: sortName, by: [sql`${sortName} asc`, asc(id)], after: (p) => sql`(${sortName}, ${id}) > (${keyOf(p)}::text, ${p.id}::uuid)`, read: (raw) => String(raw) };
    case 'newest':
      return { key: sql`null`, by: [desc(id)], after: (p) => lt(id, p.id), read: () => undefined };
  }
}

/** The cursor's key; the listing checked that its sort is the page's. */
function keyOf(position: CursorPosition): number | string {
  if (position.sort === 'newest') throw new Error('a newest-first cursor has no key');
  return position.key;
}

/** `Key (sku)=(ABC-1) already exists.` → `ABC-1`, from a driver error or its cause. */
function violatedSku(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const detail = (current as { detail?: unknown }).detail;
    if (typeof detail === 'string') return /\(sku\)=\((.*)\) already exists/.exec(detail)?.[1];
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export class CatalogStore implements CatalogRepository {
  constructor(private readonly storage: Storage) {}

  async list(listing: Listing): Promise<ListedProduct[]> {
    const order = orderOf(listing);
    const conditions = matchConditions(listing.match);
    if (listing.after !== undefined) conditions.push(order.after(listing.after));
    return this.read(listing.match, async (executor) => {
      const rows = await executor
        .select({ ...productColumns, key: order.key })
        .from(products)
        .where(and(...conditions))
        .orderBy(...order.by)
        .limit(listing.limit);
      const found = await this.withVariants(executor, rows);
      return found.map((product, i) => ({ product, key: order.read(rows[i]?.key) }));
    });
  }

  async count(match: ListingMatch): Promise<number> {
    return this.read(match, async (executor) => {
      const rows = await executor
        .select({ count: sql<number>`count(*)::int` })
        .from(products)
        .where(and(...matchConditions(match)));
      return rows[0]?.count ?? 0;
    });
  }

  /**
   * A listing read. With typo-tolerant words it runs in a transaction that sets pg_trgm's threshold
   * for `<%` first (the setting is per session; SET LOCAL ends with the transaction, so a pooled
   * connection goes back as it was).
   */
  private async read<T>(match: ListingMatch, work: (executor: Executor) => Promise<T>): Promise<T> {
    if (match.search === undefined || match.search.fuzzyWords.length === 0) return work(this.storage.db);
    return this.storage.transaction(async (tx) => {
      await tx.execute(sql`select set_config('pg_trgm.word_similarity_threshold', ${String(WORD_SIMILARITY_THRESHOLD)}, true)`);
      return work(tx);
    });
  }

  async get(id: string, executor: Executor = this.storage.db): Promise<ProductData | undefined> {
    const rows = await executor.select(productColumns).from(products).where(eq(products.id, id));
    return (await this.withVariants(executor, rows))[0];
  }

  async getMany(ids: readonly string[]): Promise<ProductData[]> {
    if (ids.length === 0) return [];
    const rows = await this.storage.db.select(productColumns).from(products).where(inArray(products.id, [...ids]));
    return this.withVariants(this.storage.db, rows);
  }

  async insert(product: ProductData): Promise<void> {
    await this.write(async (tx) => {
      await this.assertSkusFree(tx, product.variants, undefined);
      await tx.insert(products).values({
        id: product.id,
        name: product.name,
        description: product.description,
        category: product.category,
        createdAt: product.createdAt,
        updatedAt: product.updatedAt,
      });
      await tx.insert(variants).values(variantRows(product.id, product.variants));
    }, product.variants);
  }

  async update(id: string, changes: ProductChanges): Promise<ProductData | undefined> {
    return this.write(async (tx) => {
      const locked = await tx.select({ id: products.id }).from(products).where(eq(products.id, id)).for('update');
      if (locked.length === 0) return undefined;
      if (changes.variants !== undefined) {
        await this.assertSkusFree(tx, changes.variants, id);
        // Replacing the list: SKUs that stay are re-inserted with their new title and price.
        await tx.delete(variants).where(eq(variants.productId, id));
        await tx.insert(variants).values(variantRows(id, changes.variants));
      }
      await tx
        .update(products)
        .set({
          ...(changes.name === undefined ? {} : { name: changes.name }),
          ...(changes.description === undefined ? {} : { description: changes.description }),
          ...(changes.category === undefined ? {} : { category: changes.category }),
          updatedAt: changes.updatedAt,
        })
        .where(eq(products.id, id));
      return this.get(id, tx);
    }, changes.variants ?? []);
  }

  async variantsBySku(skus: readonly string[]): Promise<VariantWithProduct[]> {
    if (skus.length === 0) return [];
    const rows = await this.storage.db
      .select({
        sku: variants.sku,
        productId: variants.productId,
        productName: products.name,
        title: variants.title,
        priceAmount: variants.priceAmount,
        currency: variants.currency,
      })
      .from(variants)
      .innerJoin(products, eq(products.id, variants.productId))
      .where(inArray(variants.sku, [...skus]));
    return rows.map((r) => ({
      sku: r.sku,
      productId: r.productId,
      productName: r.productName,
      title: r.title,
      price: { amount: r.priceAmount, currency: r.currency },
    }));
  }

  async categories(): Promise<CategoryCount[]> {
    return this.storage.db
      .select({ category: products.category, productCount: sql<number>`count(*)::int` })
      .from(products)
      .groupBy(products.category)
      .orderBy(asc(products.category));
  }

  async setImage(productId: string, image: StoredImage, files: readonly ImageFileData[], at: Date): Promise<ProductData | undefined> {
    return this.storage.transaction(async (tx) => {
      const locked = await tx.select({ id: products.id }).from(products).where(eq(products.id, productId)).for('update');
      if (locked.length === 0) return undefined;
      await tx.delete(productImageFiles).where(eq(productImageFiles.productId, productId));
      const row = { version: image.version, alt: image.alt, widths: image.widths, width: image.width, height: image.height, createdAt: at };
      await tx.insert(productImages).values({ productId, ...row }).onConflictDoUpdate({ target: productImages.productId, set: row });
      // One row per statement: a file may be megabytes, and a multi-row insert would hold them all in one message.
      for (const file of files) await tx.insert(productImageFiles).values({ productId, version: image.version, width: file.width, bytes: file.bytes });
      await tx.update(products).set({ updatedAt: at }).where(eq(products.id, productId));
      return this.get(productId, tx);
    });
  }

  async imageFile(productId: string, version: string, width: number): Promise<Uint8Array | undefined> {
    const rows = await this.storage.db
      .select({ bytes: productImageFiles.bytes })
      .from(productImageFiles)
      .where(and(eq(productImageFiles.productId, productId), eq(productImageFiles.version, version), eq(productImageFiles.width, width)));
    return rows[0]?.bytes;
  }

  async related(product: ProductData, limit: number): Promise<ProductData[]> {
    const lowest = Math.min(...product.variants.map((v) => v.price.amount));
    const rows = await this.storage.db
      .select(productColumns)
      .from(products)
      .where(and(eq(products.category, product.category), ne(products.id, product.id)))
      .orderBy(sql`abs(${products.minPrice} - ${Number.isFinite(lowest) ? lowest : 0}::bigint)`, desc(products.id))
      .limit(limit);
    return this.withVariants(this.storage.db, rows);
  }

  /** One transaction; a unique violation that slipped past the check (a race) is still a 409. */
  private async write<T>(work: (tx: Tx) => Promise<T>, written: readonly VariantData[]): Promise<T> {
    try {
      return await this.storage.transaction(work);
    } catch (err) {
      if (pgErrorCode(err) !== PG_UNIQUE_VIOLATION) throw err;
      const sku = violatedSku(err);
      if (sku === undefined) throw new AppError('CONFLICT', 'A SKU of this product already belongs to another product', { cause: err });
      throw skuTaken(sku, written.findIndex((v) => v.sku === sku));
    }
  }

  private async assertSkusFree(tx: Tx, wanted: readonly VariantData[], productId: string | undefined): Promise<void> {
    const skus = wanted.map((v) => v.sku);
    const owned = inArray(variants.sku, skus);
    const taken = await tx
      .select({ sku: variants.sku })
      .from(variants)
      .where(productId === undefined ? owned : and(owned, ne(variants.productId, productId)))
      .limit(1);
    const sku = taken[0]?.sku;
    if (sku !== undefined) throw skuTaken(sku, skus.indexOf(sku));
  }

  private async withVariants(executor: Executor, rows: readonly ProductRow[]): Promise<ProductData[]> {
    if (rows.length === 0) return [];
    const found = await executor
      .select({ productId: variants.productId, sku: variants.sku, title: variants.title, priceAmount: variants.priceAmount, currency: variants.currency })
      .from(variants)
      .where(inArray(variants.productId, rows.map((r) => r.id)))
      .orderBy(asc(variants.productId), asc(variants.position));
    const images = await executor
      .select({ productId: productImages.productId, version: productImages.version, alt: productImages.alt, widths: productImages.widths, width: productImages.width, height: productImages.height })
      .from(productImages)
      .where(inArray(productImages.productId, rows.map((r) => r.id)));
    const imageOf = new Map(images.map(({ productId, ...image }) => [productId, image]));
    const byProduct = new Map<string, VariantData[]>();
    for (const v of found) {
      const list = byProduct.get(v.productId) ?? [];
      list.push({ sku: v.sku, title: v.title, price: { amount: v.priceAmount, currency: v.currency } });
      byProduct.set(v.productId, list);
    }
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      description: r.description,
      category: r.category,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      variants: byProduct.get(r.id) ?? [],
      image: imageOf.get(r.id),
    }));
  }
}

export function variantRows(productId: string, list: readonly VariantData[]): (typeof variants.$inferInsert)[] {
  return list.map((v, position) => ({
    sku: v.sku,
    productId,
    position,
    title: v.title,
    priceAmount: v.price.amount,
    currency: v.price.currency,
  }));
}

/** Every SKU in the catalog, in a stable order (the CLI seeds stock for them). */
export async function listAllSkus(storage: Storage): Promise<string[]> {
  const rows = await storage.db.select({ sku: variants.sku }).from(variants).orderBy(asc(variants.sku));
  return rows.map((r) => r.sku);
}
