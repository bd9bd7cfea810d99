/**
 * TTL with jitter. Entries written together (a cold start, a page and its products) would all
 * expire together and stampede the database at the same instant; spreading each TTL over
 * `ttl * (1 ± ratio)` turns that cliff into a slope.
 */
export const TTL_JITTER_LIMITS = {
  /** More than half would let an entry live 1.5x or die at 0.5x its nominal TTL. */
  ratioMax: 0.5,
} as const;

/** A TTL in `[ttlMs * (1 - ratio), ttlMs * (1 + ratio)]`, never below 1 ms; `random` is in [0, 1). */
export function jitteredTtl(ttlMs: number, ratio: number, random: () => number = Math.random): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new Error(`TTL must be a positive number of ms, got ${ttlMs}`);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > TTL_JITTER_LIMITS.ratioMax) {
    throw new Error(`TTL jitter ratio must be in 0..${TTL_JITTER_LIMITS.ratioMax}, got ${ratio}`);
  }
  const spread = ttlMs * ratio * (2 * random() - 1);
  return Math.max(1, Math.round(ttlMs + spread));
}
