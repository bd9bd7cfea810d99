import { sql } from 'drizzle-orm';
import { bigint, check, customType, index, integer, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** Every catalog table lives in the `catalog` PostgreSQL schema; no other service reads it. */
export const catalogSchema = pgSchema('catalog');

const tsvector = customType<{ data: string }>({
  dataType() {
    return 'tsvector';
  },
});

/** Raw bytes: an image file (node-postgres reads a Buffer, PGlite a Uint8Array; both are Uint8Array). */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType() {
    return 'bytea';
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

/**
 * A product's uploaded image (at most one; a product without a row shows its drawn picture). The
 * version is a digest of the upload: it names the files, so their URLs never serve other bytes.
 */
export const productImages = catalogSchema.table(
  'product_images',
  {
    productId: uuid('product_id')
      .primaryKey()
      .references(() => products.id, { onDelete: 'cascade' }),
    version: text('version').notNull(),
    alt: text('alt').notNull(),
    /** The widths kept in `product_image_files`, ascending; the last is `width`. */
    widths: integer('widths').array().notNull(),
    width: integer('width').notNull(),
    height: integer('height').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  () => [check('product_images_size_check', sql`"width" > 0 and "height" > 0`)],
);

/** The WebP file of each kept width of a product's image, written with its `product_images` row. */
export const productImageFiles = catalogSchema.table(
  'product_image_files',
  {
    productId: uuid('product_id')
      .notNull()
      .references(() => products.id, { onDelete: 'cascade' }),
    version: text('version').notNull(),
    width: integer('width').notNull(),
    bytes: bytea('bytes').notNull(),
  },
  (t) => [primaryKey({ columns: [t.productId, t.version, t.width] })],
);
