import { Type, type Static } from 'typebox';
import { LIMITS } from '@agora/kernel';
import { MoneySchema, PageQuery, Uuid } from './common.js';

export const Sku = Type.String({ minLength: 1, maxLength: LIMITS.skuChars, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
export const Category = Type.String({ minLength: 1, maxLength: LIMITS.categoryChars, pattern: '^[a-z0-9][a-z0-9-]*$' });

export const VariantInput = Type.Object({
  sku: Sku,
  title: Type.String({ minLength: 1, maxLength: LIMITS.variantTitleChars }),
  price: MoneySchema,
});
export type VariantInput = Static<typeof VariantInput>;

export const CreateProductBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: LIMITS.productNameChars }),
  description: Type.String({ maxLength: LIMITS.productDescriptionChars }),
  category: Category,
  variants: Type.Array(VariantInput, { minItems: 1, maxItems: LIMITS.variantsPerProduct }),
});
export type CreateProductBody = Static<typeof CreateProductBody>;

export const UpdateProductBody = Type.Partial(CreateProductBody, { minProperties: 1 });
export type UpdateProductBody = Static<typeof UpdateProductBody>;

/**
 * A product's picture as a page shows it. Every product has one: an uploaded image in several widths
 * (WebP, `srcset`), or, until one is uploaded, a picture drawn from its name and category (SVG).
 * URLs are immutable: a new upload or a renamed product gets new ones, so they are cached for a year.
 */
export const ProductImage = Type.Object({
  src: Type.String({ description: 'URL of the image at its largest width' }),
  srcset: Type.String({ description: 'every width for `srcset` ("url 320w, url 640w, ..."); empty for a drawn (SVG) picture' }),
  width: Type.Integer({ minimum: 1, description: 'intrinsic width of `src` in pixels (with height: the aspect ratio to reserve)' }),
  height: Type.Integer({ minimum: 1, description: 'intrinsic height of `src` in pixels' }),
  alt: Type.String({ description: 'text alternative' }),
  generated: Type.Boolean({ description: 'true: drawn from the name and category, no image was uploaded' }),
});
export type ProductImage = Static<typeof ProductImage>;

export const Variant = Type.Object({
  sku: Type.String(),
  title: Type.String(),
  price: MoneySchema,
  available: Type.Integer({ minimum: 0, description: 'on hand - reserved; may be slightly stale' }),
});
export type Variant = Static<typeof Variant>;

export const Product = Type.Object({
  id: Uuid,
  name: Type.String(),
  description: Type.String(),
  category: Type.String(),
  variants: Type.Array(Variant),
  image: ProductImage,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type Product = Static<typeof Product>;

/** The orders a product page can come in; a cursor belongs to the order it was issued for. */
export const ProductSort = Type.Union([Type.Literal('relevance'), Type.Literal('price_asc'), Type.Literal('price_desc'), Type.Literal('newest'), Type.Literal('name')], {
  description:
    'relevance: best match first (exact word matches before typo-tolerant ones; the default when q is given). ' +
    'price_asc / price_desc: by the lowest variant price. newest: newest first (the default without q). name: A to Z.',
});
export type ProductSort = Static<typeof ProductSort>;
export const PRODUCT_SORTS: readonly ProductSort[] = ['relevance', 'price_asc', 'price_desc', 'newest', 'name'];

/** A price bound in minor units, compared with every variant's price. */
const PriceBound = (description: string) => Type.Integer({ minimum: 0, maximum: 1_000_000_000_00, description });

/**
 * The longest product page cursor the catalog issues: a name-sorted page's cursor carries the name
 * (`productNameChars` UTF-16 units, each at most 6 bytes once JSON-escaped) with the sort and id, in
 * base64url. Longer than the generic page cursor.
 */
export const PRODUCT_CURSOR_CHARS = Math.ceil(((LIMITS.productNameChars * 6 + 80) * 4) / 3);

export const ProductQuery = Type.Object({
  q: Type.Optional(Type.String({ maxLength: LIMITS.searchQueryChars, description: 'search text; tolerates typos ("wirless" finds "wireless")' })),
  category: Type.Optional(Type.String({ maxLength: LIMITS.categoryChars })),
  sort: Type.Optional(ProductSort),
  minPrice: Type.Optional(PriceBound('only products with a variant priced at least this (minor units)')),
  maxPrice: Type.Optional(PriceBound('only products with a variant priced at most this (minor units); with minPrice, one variant must be in both bounds')),
  ...PageQuery,
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: PRODUCT_CURSOR_CHARS })),
});
export type ProductQuery = Static<typeof ProductQuery>;

/** How many products match the query (every page of it), when the answer carries it. */
const Total = Type.Optional(Type.Integer({ minimum: 0, description: 'how many products match the query, across all pages' }));

export const ProductPage = Type.Object({ items: Type.Array(Product), nextCursor: Type.Union([Type.String(), Type.Null()]), total: Total });

export const CategorySummary = Type.Object({ category: Type.String(), productCount: Type.Integer() });
export const CategoryList = Type.Object({ items: Type.Array(CategorySummary) });

/*
 * What the catalog service itself answers: products without stock. The gateway adds `available`
 * to every variant from the inventory service before a shopper sees a Product.
 */
export const CatalogVariant = Type.Object({
  sku: Type.String(),
  title: Type.String(),
  price: MoneySchema,
});
export type CatalogVariant = Static<typeof CatalogVariant>;

export const CatalogProduct = Type.Object({
  id: Uuid,
  name: Type.String(),
  description: Type.String(),
  category: Type.String(),
  variants: Type.Array(CatalogVariant),
  image: ProductImage,
  createdAt: Type.String({ description: 'ISO 8601 UTC' }),
  updatedAt: Type.String({ description: 'ISO 8601 UTC' }),
});
export type CatalogProduct = Static<typeof CatalogProduct>;

export const CatalogProductPage = Type.Object({ items: Type.Array(CatalogProduct), nextCursor: Type.Union([Type.String(), Type.Null()]), total: Total });
export type CatalogProductPage = Static<typeof CatalogProductPage>;

export type CategorySummary = Static<typeof CategorySummary>;
export type CategoryList = Static<typeof CategoryList>;

/** A product id in a path. A pattern, not `format: uuid`, which would also let `urn:uuid:` through. */
export const ProductIdParams = Type.Object({
  id: Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$', description: 'product id (UUID)' }),
});
export type ProductIdParams = Static<typeof ProductIdParams>;

/** Most SKUs one by-sku lookup may name (a full page of products with every variant). */
export const SKU_LOOKUP_MAX = LIMITS.pageSizeMax * LIMITS.variantsPerProduct;

/** Internal: `GET /products/by-sku?skus=a,b,c` (cart and checkout read prices with it). */
export const SkuLookupQuery = Type.Object({
  skus: Type.String({ minLength: 1, maxLength: (LIMITS.skuChars + 1) * SKU_LOOKUP_MAX, description: 'comma-separated SKUs' }),
});
export type SkuLookupQuery = Static<typeof SkuLookupQuery>;

export const SkuVariant = Type.Object({
  sku: Type.String(),
  productId: Uuid,
  productName: Type.String(),
  title: Type.String(),
  price: MoneySchema,
});
export type SkuVariant = Static<typeof SkuVariant>;

/** Known SKUs only, in the order asked; an unknown SKU is simply absent. */
export const SkuVariantList = Type.Object({ items: Type.Array(SkuVariant) });
export type SkuVariantList = Static<typeof SkuVariantList>;

/**
 * A product query as the catalog's `GET /products` takes it
 * (`?q=&category=&sort=&minPrice=&maxPrice=&limit=&cursor=`; '' when empty).
 */
export function productQueryString(query: ProductQuery): string {
  const params = new URLSearchParams();
  if (query.q !== undefined) params.set('q', query.q);
  if (query.category !== undefined) params.set('category', query.category);
  if (query.sort !== undefined) params.set('sort', query.sort);
  if (query.minPrice !== undefined) params.set('minPrice', String(query.minPrice));
  if (query.maxPrice !== undefined) params.set('maxPrice', String(query.maxPrice));
  if (query.limit !== undefined) params.set('limit', String(query.limit));
  if (query.cursor !== undefined) params.set('cursor', query.cursor);
  const text = params.toString();
  return text.length > 0 ? `?${text}` : '';
}

/** Every variant of these products carries inventory's `available`: they are products as shoppers see them. */
export function carryAvailability(products: readonly CatalogProduct[]): products is Product[] {
  return products.every((p) => p.variants.every((v) => typeof (v as { available?: unknown }).available === 'number'));
}

/** The header that asks the catalog for products as shoppers see them (with `available`), and its value. */
export const STOREFRONT_INCLUDE = { header: 'x-agora-include', value: 'availability' } as const;

/** The image types an admin may upload; every upload is stored as WebP in `PRODUCT_IMAGE_WIDTHS`. */
export const PRODUCT_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;
export type ProductImageType = (typeof PRODUCT_IMAGE_TYPES)[number];

/** The widths an upload is stored in (those narrower than the upload, and the upload's own width when it is narrower than the largest). */
export const PRODUCT_IMAGE_WIDTHS = [320, 640, 1280] as const;

/** Base64 characters of `bytes` bytes. */
const base64Chars = (bytes: number) => Math.ceil(bytes / 3) * 4;

/**
 * `PUT /api/v1/admin/products/:id/image`: the image's bytes in base64 with their type. Bytes over
 * `LIMITS.productImageBytes` are refused with 413 naming `data`; a type other than PNG, JPEG or WebP,
 * or bytes that are not the type named, with 415 naming the field.
 */
export const UploadProductImageBody = Type.Object({
  contentType: Type.String({ minLength: 1, maxLength: 100, description: `one of ${PRODUCT_IMAGE_TYPES.join(', ')}` }),
  data: Type.String({ minLength: 1, description: `the image file in base64, at most ${LIMITS.productImageBytes} bytes once decoded` }),
  alt: Type.Optional(Type.String({ maxLength: LIMITS.productImageAltChars, description: 'text alternative; the product name when absent' })),
});
export type UploadProductImageBody = Static<typeof UploadProductImageBody>;

/**
 * The largest upload body a server takes for that route: twice the image limit in base64, so that an
 * image somewhat over the limit still gets a 413 naming `data`, and not the transport's bare 413.
 */
export const UPLOAD_IMAGE_BODY_BYTES = base64Chars(LIMITS.productImageBytes * 2) + 1024;

/** An image file's name in its URL: a drawn picture `g-<version>.svg`, an upload's width `<version>-<width>.webp`. */
export const ImageFileParams = Type.Object({
  id: ProductIdParams.properties.id,
  file: Type.String({ pattern: '^(g-[0-9a-f]{16}\\.svg|[0-9a-f]{16}-[0-9]{1,4}\\.webp)$', description: 'file name as the product\'s image URLs give it' }),
});
export type ImageFileParams = Static<typeof ImageFileParams>;

/** The public URL of one of a product's image files. */
export function productImagePath(productId: string, file: string): string {
  return `/api/v1/products/${productId}/images/${file}`;
}

/** Internal (catalog to gateway): an image file in JSON, so that it crosses any transport. */
export const ImageFile = Type.Object({
  contentType: Type.String(),
  etag: Type.String(),
  data: Type.String({ description: 'base64' }),
});
export type ImageFile = Static<typeof ImageFile>;

/** Most related products one answer carries; the default when no limit is asked. */
export const RELATED_PRODUCTS_MAX = 12;
export const RELATED_PRODUCTS_DEFAULT = 4;

export const RelatedQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: RELATED_PRODUCTS_MAX, default: RELATED_PRODUCTS_DEFAULT, description: 'how many products at most' })),
});
export type RelatedQuery = Static<typeof RelatedQuery>;

/** Products of the same category nearest in price to the one asked about, nearest first; never itself. */
export const RelatedProducts = Type.Object({ items: Type.Array(Product) });
export type RelatedProducts = Static<typeof RelatedProducts>;
export const CatalogRelatedProducts = Type.Object({ items: Type.Array(CatalogProduct) });
export type CatalogRelatedProducts = Static<typeof CatalogRelatedProducts>;
