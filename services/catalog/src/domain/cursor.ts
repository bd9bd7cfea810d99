import { LIMITS, isUuid, validationError } from '@agora/kernel';
import type { catalog } from '@agora/contracts';

/**
 * Page cursors are opaque to clients: base64url of a versioned position. The position is the last
 * product of the page in the page's order (keyset pagination), which stays correct while products
 * are added between pages:
 * - `p1:<id>`: newest first, on the UUIDv7 id alone (the order of every cursor issued before sorts
 *   existed, so those still work);
 * - `p2:` + JSON `[sort, id, key]` for every other order, `key` being what the page is ordered by
 *   before the id: the relevance rank, the lowest variant price, or the lowered name.
 * A cursor belongs to its order: used with another `sort` it is refused.
 */
const NEWEST = 'p1:';
const KEYED = 'p2:';
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export type CursorPosition =
  | { sort: 'newest'; id: string }
  | { sort: 'relevance' | 'price_asc' | 'price_desc'; id: string; key: number }
  | { sort: 'name'; id: string; key: string };

export function encodeCursor(position: CursorPosition): string {
  const id = position.id.toLowerCase();
  const text = position.sort === 'newest' ? `${NEWEST}${id}` : `${KEYED}${JSON.stringify([position.sort, id, position.key])}`;
  return Buffer.from(text, 'utf8').toString('base64url');
}

/**
 * The position after which the next page of `sort` starts; anything we did not make, or made for
 * another order, is a 400 naming `cursor`.
 */
export function decodeCursor(cursor: string, sort: catalog.ProductSort): CursorPosition {
  const position = parse(cursor);
  if (position === undefined || encodeCursor(position) !== cursor) {
    throw validationError([{ path: 'cursor', message: 'is not a cursor this service issued' }]);
  }
  if (position.sort !== sort) throw validationError([{ path: 'cursor', message: `belongs to sort=${position.sort}, not sort=${sort}` }]);
  return position;
}

function parse(cursor: string): CursorPosition | undefined {
  if (!BASE64URL.test(cursor)) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (text.startsWith(NEWEST)) {
    const id = text.slice(NEWEST.length);
    return isUuid(id) ? { sort: 'newest', id } : undefined;
  }
  if (!text.startsWith(KEYED)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text.slice(KEYED.length));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 3) return undefined;
  const [sort, id, key] = value as unknown[];
  if (typeof id !== 'string' || !isUuid(id)) return undefined;
  if (sort === 'name') return typeof key === 'string' && key.length <= LIMITS.productNameChars ? { sort, id, key } : undefined;
  if (sort === 'relevance' || sort === 'price_asc' || sort === 'price_desc') {
    return typeof key === 'number' && Number.isSafeInteger(key) && key >= 0 ? { sort, id, key } : undefined;
  }
  return undefined;
}
