import { createHash } from 'node:crypto';

/**
 * sha256 (hex) of the canonical JSON of a request body: object keys sorted at every depth, so
 * two bodies that differ only in key order or whitespace hash the same. Array order counts.
 */
export function hashRequest(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** JSON.stringify with sorted keys; what JSON.stringify would drop or turn into null does the same here. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value, 0)) ?? 'null';
}

/** Deeper than this is not a request body but an attack. */
const MAX_DEPTH = 64;

function sortKeys(value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new RangeError(`request body nests deeper than ${MAX_DEPTH} levels`);
  if (value === null || typeof value !== 'object') return value;
  const withToJson = value as { toJSON?: () => unknown };
  if (typeof withToJson.toJSON === 'function') return sortKeys(withToJson.toJSON(), depth + 1);
  if (Array.isArray(value)) return value.map((item) => sortKeys(item, depth + 1));
  // fromEntries defines own properties, so even a "__proto__" member is hashed like any other.
  const record = value as Record<string, unknown>;
  return Object.fromEntries(Object.keys(record).sort().map((key) => [key, sortKeys(record[key], depth + 1)]));
}
