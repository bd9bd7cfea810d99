import { sql } from 'drizzle-orm';
import { bigint, check, customType, index, integer, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** Every catalog table lives in the `catalog` PostgreSQL schema; no other service reads it. */
export const catalogSchema = pgSchema('catalog');

const tsvector = customType<{ data: string }>({
  dataType() {
    return 'tsvector';
  },
});

export const products = catalogSchema.table(
  'products',
  {
    /** UUIDv7: time-ordered, so it is also the keyset for pagination (newest first). */
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    description: text('description').notNull(),
    category: text('category').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** Kept by PostgreSQL itself, so no write path can forget to update it. */
    search: tsvector('search')
      .notNull()
      .generatedAlwaysAs(sql`to_tsvector('english', "name" || ' ' || "description" || ' ' || "category")`),
    /**
     * Name and description as one text for pg_trgm's typo-tolerant match (`q <% search_text`),
     * kept by PostgreSQL like `search`. Trigrams ignore case, so it is not lowered.
     */
    searchText: text('search_text')
      .notNull()
      .generatedAlwaysAs(sql`"name" || ' ' || "description"`),
    /**
     * The lowest price of the product's variants (minor units): what price sorts order by, indexed
     * with the id as their keyset. Kept by triggers on `variants` (migration 0002), so no write
     * path, the seed included, can forget it; 0 only between a product's insert and its variants'.
     */
    minPrice: bigint('min_price', { mode: 'number' }).notNull().default(0),
  },
  (t) => [
    index('products_category_id_idx').on(t.category, t.id),
    index('products_search_idx').using('gin', t.search),
    index('products_search_text_trgm_idx').using('gin', t.searchText.op('gin_trgm_ops')),
    index('products_min_price_id_idx').on(t.minPrice, t.id),
  ],
);

export const variants = catalogSchema.table(
  'variants',
  {
    /** A SKU is unique across the whole catalog: cart, inventory and orders key on it. */
    sku: text('sku').primaryKey(),
    productId: uuid('product_id')
      .notNull()
      .references(() => products.id, { onDelete: 'cascade' }),
    /** Order of the variant within its product, as the admin listed them. */
    position: integer('position').notNull(),
    title: text('title').notNull(),
    priceAmount: bigint('price_amount', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
  },
  (t) => [
    index('variants_product_id_position_idx').on(t.productId, t.position),
    check('variants_price_amount_check', sql`"price_amount" >= 0`),
    check('variants_currency_check', sql`"currency" ~ '^[A-Z]{3}$'`),
  ],
);
