/**
 * Stable hash functions. "Stable" is the whole point: a ring built in one process must place a key
 * exactly where a ring built in another process (another language, next year) places it, so these
 * are fixed, published algorithms over the key's UTF-8 bytes — never `String.prototype` tricks or
 * anything seeded per process.
 */

const encoder = new TextEncoder();

/** The UTF-8 bytes of a key: two processes agree on bytes, not on JavaScript's UTF-16 code units. */
export function utf8(key: string): Uint8Array {
  return encoder.encode(key);
}

/**
 * MurmurHash3 (x86, 32-bit) by Austin Appleby. Chosen for the ring because it is fast, has good
 * avalanche (keys that differ in one character, like `node-1#7` and `node-1#8`, land far apart,
 * which FNV-1a does poorly on short similar strings) and has published test vectors.
 */
export function murmur3(key: string | Uint8Array, seed = 0): number {
  const bytes = typeof key === 'string' ? utf8(key) : key;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = bytes.length >>> 2;

  for (let i = 0; i < blocks; i++) {
    const o = i << 2;
    // Little-endian 4-byte block, as the reference implementation reads it on x86.
    let k = (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24)) >>> 0;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }

  // The 1-3 trailing bytes (the reference's fall-through switch, spelled out).
  const tail = blocks << 2;
  const remaining = bytes.length & 3;
  if (remaining > 0) {
    let k = 0;
    if (remaining === 3) k ^= bytes[tail + 2]! << 16;
    if (remaining >= 2) k ^= bytes[tail + 1]! << 8;
    k ^= bytes[tail]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }

  // Finalization mix: forces every input bit to affect every output bit.
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Seeds for the two halves of {@link hash64}; any two distinct constants would do, these are fixed forever. */
const HIGH_SEED = 0x9747b28c;
const LOW_SEED = 0x5bd1e995;

/**
 * A 64-bit key for algorithms that want one (jump hash): two independent 32-bit murmur3 halves.
 * Not a true 64-bit hash, but stable and well mixed, which is all jump hash needs of its input.
 */
export function hash64(key: string): bigint {
  const bytes = utf8(key);
  return (BigInt(murmur3(bytes, HIGH_SEED)) << 32n) | BigInt(murmur3(bytes, LOW_SEED));
}

/** A hash mapped to [0, 1): the "uniform random number seeded by the key" several algorithms need. */
export function unitInterval(hash32: number): number {
  return (hash32 >>> 0) / 0x1_0000_0000;
}
