/**
 * Keyset pages across shards. Each shard answers its newest `limit + 1` rows below the cursor
 * (ids descending: UUIDv7, so newest first); the merge keeps only what every shard has answered
 * for. A shard that answered a full page knows nothing below its last row, so the merged page
 * stops at the highest such boundary; rows a shard holds but does not own (copies a move has not
 * cleaned up yet) are dropped, and an id seen twice is kept once.
 */
export interface ShardPage<T> {
  /** What the shard answered, newest first, `limit + 1` at most. */
  rows: readonly T[];
  /** The shard answered `limit + 1` rows: it may hold more below its last. */
  full: boolean;
}

export function mergeShardPages<T>(pages: readonly ShardPage<T>[], limit: number, idOf: (row: T) => string, owned: (row: T) => boolean): { items: T[]; nextCursor: string | null } {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  // The lowest id every full shard still vouches for: below it, some shard's rows are unknown.
  let boundary: string | undefined;
  for (const page of pages) {
    const last = page.rows[page.rows.length - 1];
    if (!page.full || last === undefined) continue;
    const id = idOf(last);
    if (boundary === undefined || id > boundary) boundary = id;
  }
  const seen = new Set<string>();
  const merged: T[] = [];
  for (const page of pages) {
    for (const row of page.rows) {
      const id = idOf(row);
      if (boundary !== undefined && id < boundary) continue;
      if (!owned(row) || seen.has(id)) continue;
      seen.add(id);
      merged.push(row);
    }
  }
  merged.sort((a, b) => (idOf(a) < idOf(b) ? 1 : idOf(a) > idOf(b) ? -1 : 0));
  if (merged.length > limit) return { items: merged.slice(0, limit), nextCursor: idOf(merged[limit - 1]!) };
  // A page or less left above the boundary (rows were dropped): the next page starts below it.
  return { items: merged, nextCursor: boundary ?? null };
}
