import type { ProductData, ProductFields, VariantData } from '../domain/product.js';
import type { Listing, ListingMatch } from '../domain/listing.js';
import type { StoredImage } from '../domain/image.js';

/** One kept width of an uploaded image, encoded. */
export interface ImageFileData {
  width: number;
  bytes: Uint8Array;
}

/** A product in a listing with the value it is ordered by before its id (for the next page's cursor). */
export interface ListedProduct {
  product: ProductData;
  /** The relevance rank, the lowest variant price or the lowered name; none for newest first. */
  key: number | string | undefined;
}

export interface VariantWithProduct extends VariantData {
  productId: string;
  productName: string;
}

export interface CategoryCount {
  category: string;
  productCount: number;
}

export interface ProductChanges extends Partial<ProductFields> {
  variants?: VariantData[];
  updatedAt: Date;
}

/** The catalog's storage, as the use cases need it. Writes are one transaction each. */
export interface CatalogRepository {
  /** Up to `limit` products of the listing after its cursor, in its order. */
  list(listing: Listing): Promise<ListedProduct[]>;
  /** How many products match (all pages). */
  count(match: ListingMatch): Promise<number>;
  get(id: string): Promise<ProductData | undefined>;
  /** The products with these ids that exist, in no particular order. */
  getMany(ids: readonly string[]): Promise<ProductData[]>;
  /** Throws CONFLICT naming the SKU when one is taken by another product. */
  insert(product: ProductData): Promise<void>;
  /** Undefined when there is no such product. Throws CONFLICT like `insert`. */
  update(id: string, changes: ProductChanges): Promise<ProductData | undefined>;
  variantsBySku(skus: readonly string[]): Promise<VariantWithProduct[]>;
  categories(): Promise<CategoryCount[]>;
  /**
   * Replaces the product's image and its files in one transaction (the old version's files go).
   * Undefined when there is no such product.
   */
  setImage(productId: string, image: StoredImage, files: readonly ImageFileData[], at: Date): Promise<ProductData | undefined>;
  /** The bytes of one kept width of the product's image at that version; undefined when there is none. */
  imageFile(productId: string, version: string, width: number): Promise<Uint8Array | undefined>;
  /** Up to `limit` other products of the product's category, nearest in lowest price first (ties: newest). */
  related(product: ProductData, limit: number): Promise<ProductData[]>;
}

/**
 * Live stock per SKU (inventory's `available`), for the storefront reads the catalog caches. A
 * failure is thrown: the caller serves the product without availability and caches nothing.
 */
export interface AvailabilitySource {
  /** `available` per SKU asked for; a SKU inventory does not know is absent. */
  levels(skus: readonly string[]): Promise<Map<string, number>>;
}
