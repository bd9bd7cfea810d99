import { sql } from 'drizzle-orm';
import { newId, systemClock, type Clock } from '@agora/kernel';
import { advisoryKey, type Storage } from '@agora/platform';
import { demoProducts } from './demo-data.js';
import { listAllSkus } from './store/catalog-store.js';
import { products, variants } from './store/schema.js';

export interface SeedOptions {
  /** How many demo products to create (default 1,200). */
  products?: number;
  clock?: Clock;
}

export interface SeedResult {
  /** Products created by this call: 0 when the catalog already had products. */
  created: number;
  /** Every SKU in the catalog after the call, sorted. */
  skus: string[];
}

export const DEFAULT_DEMO_PRODUCTS = 1_200;
/** Rows per INSERT: well under PostgreSQL's 65,535 bind parameters, few round trips. */
const BATCH_ROWS = 500;

/**
 * Fills an empty catalog with the deterministic demo catalog, in one transaction of batched
 * multi-row inserts. Idempotent: when there are products already it creates nothing. An advisory
 * lock makes instances that start together take turns, so only one of them seeds.
 */
export async function seedDemoCatalog(storage: Storage, options: SeedOptions = {}): Promise<SeedResult> {
  const count = options.products ?? DEFAULT_DEMO_PRODUCTS;
  if (!Number.isSafeInteger(count) || count < 0 || count > 100_000) throw new RangeError(`products must be an integer in 0..100000, got ${count}`);
  const now = (options.clock ?? systemClock).now();
  const created = await storage.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${advisoryKey('catalog:seed')})`);
    const existing = await tx.select({ id: products.id }).from(products).limit(1);
    if (existing.length > 0) return 0;
    const demo = demoProducts(count);
    const productRows: (typeof products.$inferInsert)[] = [];
    const variantRows: (typeof variants.$inferInsert)[] = [];
    for (const product of demo) {
      // Made in order, so the UUIDv7 ids list the demo newest-last like a shop that grew.
      const id = newId();
      productRows.push({ id, name: product.name, description: product.description, category: product.category, createdAt: now, updatedAt: now });
      product.variants.forEach((v, position) => {
        variantRows.push({ sku: v.sku, productId: id, position, title: v.title, priceAmount: v.price.amount, currency: v.price.currency });
      });
    }
    for (let i = 0; i < productRows.length; i += BATCH_ROWS) await tx.insert(products).values(productRows.slice(i, i + BATCH_ROWS));
    for (let i = 0; i < variantRows.length; i += BATCH_ROWS) await tx.insert(variants).values(variantRows.slice(i, i + BATCH_ROWS));
    return productRows.length;
  });
  return { created, skus: await listAllSkus(storage) };
}
