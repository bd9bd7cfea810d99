import { isUuid, validationError } from '@agora/kernel';

/**
 * Page cursors are opaque to clients: base64url of a versioned position. Today the position is
 * the last product id of the page (keyset pagination on the UUIDv7 id, newest first), which
 * stays correct while products are added between pages.
 */
const VERSION = 'p1:';
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function encodeCursor(lastId: string): string {
  return Buffer.from(`${VERSION}${lastId.toLowerCase()}`, 'utf8').toString('base64url');
}

/** The id after which the next page starts; anything we did not make is a 400 naming `cursor`. */
export function decodeCursor(cursor: string): string {
  const invalid = () => validationError([{ path: 'cursor', message: 'is not a cursor this service issued' }]);
  if (!BASE64URL.test(cursor)) throw invalid();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(VERSION)) throw invalid();
  const id = text.slice(VERSION.length);
  if (!isUuid(id) || encodeCursor(id) !== cursor) throw invalid();
  return id;
}
