import { LIMITS, validationError } from '@agora/kernel';
import type { catalog } from '@agora/contracts';
import { decodeCursor, type CursorPosition } from './cursor.js';
import { searchTermsOf, type SearchTerms } from './search.js';

const CATEGORY = /^[a-z0-9][a-z0-9-]*$/;
const PRICE_MAX = 1_000_000_000_00;

/** Which products match: the part of a listing that the result count depends on. */
export interface ListingMatch {
  search: SearchTerms | undefined;
  category: string | undefined;
  /** Some variant is priced within both bounds (minor units, inclusive). */
  minPrice: number | undefined;
  maxPrice: number | undefined;
}

/** A product query as the store runs it: checked, with the order it really comes in. */
export interface Listing {
  match: ListingMatch;
  /** The order applied: `relevance` only with search text (without it every product ranks alike). */
  sort: catalog.ProductSort;
  after: CursorPosition | undefined;
  limit: number;
  /** A category that is not a slug names no category: the answer is empty without asking the store. */
  empty: boolean;
}

/** Checks a query (400 naming the field) and settles its defaults. */
export function listingOf(query: catalog.ProductQuery): Listing {
  const limit = query.limit ?? LIMITS.pageSizeDefault;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > LIMITS.pageSizeMax) {
    throw validationError([{ path: 'limit', message: `must be an integer in 1..${LIMITS.pageSizeMax}` }]);
  }
  const minPrice = priceBound('minPrice', query.minPrice);
  const maxPrice = priceBound('maxPrice', query.maxPrice);
  if (minPrice !== undefined && maxPrice !== undefined && minPrice > maxPrice) {
    throw validationError([{ path: 'minPrice', message: `must not be greater than maxPrice (${maxPrice})` }]);
  }
  const search = searchTermsOf(query.q);
  const requested = query.sort ?? (search === undefined ? 'newest' : 'relevance');
  const sort = requested === 'relevance' && search === undefined ? 'newest' : requested;
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, sort);
  const category = query.category?.trim() || undefined;
  return {
    match: { search, category, minPrice, maxPrice },
    sort,
    after,
    limit,
    empty: category !== undefined && !CATEGORY.test(category),
  };
}

/** The cache key of what a listing matches: pages of every sort, limit and cursor share one count. */
export function matchKey(match: ListingMatch): string {
  return JSON.stringify([match.search?.text ?? '', match.category ?? '', match.minPrice ?? null, match.maxPrice ?? null]);
}

/** The cache key of one page: its match, order, size and position. */
export function pageKey(listing: Listing): string {
  return JSON.stringify([matchKey(listing.match), listing.sort, listing.limit, listing.after ?? null]);
}

function priceBound(path: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0 || value > PRICE_MAX) {
    throw validationError([{ path, message: `must be an integer in 0..${PRICE_MAX} (minor units)` }]);
  }
  return value;
}
