import { hash64 } from './hash.js';

/**
 * Jump consistent hash, Lamping & Veach 2014 ("A Fast, Minimal Memory, Consistent Hash
 * Algorithm"). Maps a 64-bit key to a bucket in [0, buckets) with no table at all and in
 * O(ln buckets) steps; going from n to n+1 buckets moves exactly the keys that land in the new
 * bucket n (~1/(n+1) of them) and nothing else.
 *
 * The catch, and why the ring is the general tool here: buckets are numbered 0..n-1 and can only be
 * added or removed at the end. Losing bucket 3 of 10 cannot be expressed, so it fits sharding with
 * a growing shard count, not a set of endpoints that come and go in any order.
 */
const MULTIPLIER = 2862933555777941757n;
const TWO_POW_31 = 2 ** 31;

export function jumpHash(key: bigint | string, buckets: number): number {
  if (!Number.isSafeInteger(buckets) || buckets < 1) throw new RangeError(`buckets must be a positive integer, got ${buckets}`);
  // The paper's 64-bit unsigned arithmetic, done with BigInt and wrapped to 64 bits; a string key
  // is first hashed to 64 bits.
  let state = typeof key === 'string' ? hash64(key) : BigInt.asUintN(64, key);
  let bucket = -1;
  let next = 0;
  while (next < buckets) {
    bucket = next;
    // A linear congruential step: a pseudo-random sequence determined by the key alone.
    state = BigInt.asUintN(64, state * MULTIPLIER + 1n);
    // Jump forward: the next bucket this key would move to as buckets grow. Each candidate j
    // "catches" the key with probability 1/(j+1), exactly the consistent-hash requirement.
    next = Math.floor((bucket + 1) * (TWO_POW_31 / (Number(state >> 33n) + 1)));
  }
  return bucket;
}
