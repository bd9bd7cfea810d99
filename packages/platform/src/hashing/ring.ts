import { murmur3 } from './hash.js';

/**
 * Consistent hash ring with virtual nodes (Karger et al. 1997; the "ketama" layout memcached
 * clients use).
 *
 * The hash space [0, 2^32) is a circle. Every member puts `virtualNodes × weight` points on it;
 * a key belongs to the first point at or after the key's own hash, wrapping past 2^32 to the start.
 * Why this shape:
 * - Removing a member hands only *its* arcs to the next points clockwise, so only the keys it held
 *   move (~1/n of them); every other key stays put. Adding a member takes over arcs from its
 *   neighbours, so only ~1/(n+1) of the keys move — all of them to the new member.
 * - One point per member would give arcs of wildly different length (a member's share of keys is
 *   the length of its arcs). Many points per member average that out: a member's share deviates
 *   from its fair share by about 1/√(virtual nodes) relative (~2.2% at the default 2,000; why that
 *   number, and what it costs, at {@link HASH_RING_DEFAULTS}).
 * - The layout depends only on the set of (id, weight) pairs — never on the order of `add` calls
 *   — so every client that sees the same members routes every key the same way.
 *
 * Generic in the member type: the balancer stores endpoints, the sharding block stores shards.
 */
export interface HashRingOptions {
  /** Points per member at weight 1. More points: smoother shares, more memory, slower rebuilds. */
  virtualNodes?: number;
  /** A stable 32-bit hash; murmur3 by default. Every participant must use the same one. */
  hash?: (key: string) => number;
}

/**
 * Why 2,000 points per member, not ketama's 160: the goal is that with 10 members the busiest one
 * holds at most 1.10 × the mean share of keys, whatever the members are called. A share's relative
 * spread is ~1/√V, and the busiest of 10 sits ~1.5 spreads above the mean on average and 3-4 in a
 * bad draw. Measured over 1,000 random sets of 10 UUID-named members (`ring.shares()`, exact):
 *
 *   points   median busiest/mean   p99     worst   sets over 1.10
 *      160   1.119                 1.258   1.296   705 / 1,000   (ketama's default: fails)
 *    1,000   1.048                 1.095   1.150     4 / 1,000
 *    1,500   1.038                 1.076   1.100     1 / 1,000
 *    2,000   1.034                 1.064   1.083     0 / 1,000
 *
 * (`node-0`..`node-9` happen to get 1.086 at 160 points: a lucky draw, not a property.)
 * `agora bench ring` measures it on 1,000,000 keys (docs/benchmarks.md).
 *
 * The cost: memory and rebuild time grow linearly with the points, lookups only with their log₂.
 * A point takes 12 bytes (4 in `points`, 8 for its slot in `owners`, which shares the id string),
 * so 24 KB per member of weight 1 (1.9 KB at 160): 240 KB for 10 members, 2.4 MB for 100; a
 * rebuild also holds an 8-byte sort key per point for its duration. A rebuild (only after a
 * membership change, at the next lookup) hashes and sorts every point: ~5-30 ms for 10 members on
 * a busy 2-core machine. A lookup is one hash and a binary search of ~15 steps instead of ~11.
 */
export const HASH_RING_DEFAULTS = {
  virtualNodes: 2_000,
} as const;

/**
 * A point and its member's index are packed into one float64 (point × 2^21 + index, exact below
 * 2^53) so a rebuild sorts one typed array, not an array of objects; hence this many members at most.
 */
export const HASH_RING_MAX_MEMBERS = 2 ** 21;

/** One member on the ring, as {@link HashRing.walk} yields it. */
export interface RingMember<T> {
  readonly id: string;
  readonly node: T;
  readonly weight: number;
}

export class HashRing<T> {
  private readonly virtualNodes: number;
  private readonly hash: (key: string) => number;
  private readonly members = new Map<string, RingMember<T>>();
  /** Sorted point positions and, at the same index, the id of the member owning the point. */
  private points = new Uint32Array(0);
  private owners: string[] = [];
  /** Membership changes mark the layout stale; it is rebuilt once, at the next lookup. */
  private dirty = false;
  private currentVersion = 0;

  constructor(options: HashRingOptions = {}) {
    const virtualNodes = options.virtualNodes ?? HASH_RING_DEFAULTS.virtualNodes;
    if (!Number.isInteger(virtualNodes) || virtualNodes < 1) throw new RangeError(`virtualNodes must be a positive integer, got ${virtualNodes}`);
    this.virtualNodes = virtualNodes;
    this.hash = options.hash ?? ((key) => murmur3(key));
  }

  /** Increases on every membership change: a caller caching a lookup compares versions to know it is stale. */
  get version(): number {
    return this.currentVersion;
  }

  get size(): number {
    return this.members.size;
  }

  /**
   * Adds a member, or replaces it (new node value or weight) when the id is already there.
   * `weight` scales its number of points, hence its expected share of keys; it may be fractional
   * (a member gets at least one point).
   */
  add(id: string, node: T, weight = 1): this {
    if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`weight of ${id} must be a positive number, got ${weight}`);
    const existing = this.members.get(id);
    if (!existing && this.members.size >= HASH_RING_MAX_MEMBERS) throw new RangeError(`a ring holds at most ${HASH_RING_MAX_MEMBERS} members`);
    this.members.set(id, { id, node, weight });
    // Replacing only the value keeps the layout: points depend on id and weight alone.
    if (existing?.weight !== weight) this.changed();
    else this.currentVersion++;
    return this;
  }

  remove(id: string): boolean {
    const removed = this.members.delete(id);
    if (removed) this.changed();
    return removed;
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  get(id: string): T | undefined {
    return this.members.get(id)?.node;
  }

  /** Members sorted by id (a stable order for admin views and tests). */
  entries(): RingMember<T>[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The member owning `key`, or undefined on an empty ring. */
  lookup(key: string): T | undefined {
    const id = this.lookupId(key);
    return id === undefined ? undefined : this.members.get(id)?.node;
  }

  lookupId(key: string): string | undefined {
    this.rebuildIfStale();
    if (this.points.length === 0) return undefined;
    return this.owners[this.firstPointAtOrAfter(this.hash(key))];
  }

  /**
   * Distinct members in ring order starting at the owner of `key`. The first is `lookup(key)`;
   * the next ones are where the key would go if the ones before were gone — the fallback for an
   * ejected endpoint, and the replica set for `lookupN`.
   */
  *walk(key: string): Generator<RingMember<T>, void, undefined> {
    this.rebuildIfStale();
    const points = this.points.length;
    if (points === 0) return;
    // Snapshot: a caller that changes the ring while walking must not see a half-rebuilt layout.
    const owners = this.owners;
    const members = this.members;
    const seen = new Set<string>();
    const start = this.firstPointAtOrAfter(this.hash(key));
    for (let step = 0; step < points && seen.size < members.size; step++) {
      const id = owners[(start + step) % points]!;
      if (seen.has(id)) continue;
      seen.add(id);
      const member = members.get(id);
      if (member) yield member;
    }
  }

  /** Up to `count` distinct members for `key`, in ring order (e.g. a primary and its replicas). */
  lookupN(key: string, count: number): T[] {
    const found: T[] = [];
    if (count <= 0) return found;
    for (const member of this.walk(key)) {
      found.push(member.node);
      if (found.length >= count) break;
    }
    return found;
  }

  /**
   * Each member's fraction of the hash space (summing to 1): the share of uniformly hashed keys
   * it will own. This is what virtual nodes even out.
   */
  shares(): Map<string, number> {
    this.rebuildIfStale();
    const shares = new Map<string, number>();
    for (const id of this.members.keys()) shares.set(id, 0);
    const count = this.points.length;
    if (count === 0) return shares;
    const space = 0x1_0000_0000;
    for (let i = 0; i < count; i++) {
      // A point owns the arc from the previous point (exclusive) up to itself (inclusive).
      const previous = i === 0 ? this.points[count - 1]! - space : this.points[i - 1]!;
      const arc = count === 1 ? space : this.points[i]! - previous;
      const owner = this.owners[i]!;
      shares.set(owner, (shares.get(owner) ?? 0) + arc / space);
    }
    return shares;
  }

  private changed(): void {
    this.dirty = true;
    this.currentVersion++;
  }

  private rebuildIfStale(): void {
    if (!this.dirty) return;
    this.dirty = false;
    // Members in id order: ties (two members hashing a point to the same value) then go to the
    // smaller id, so the layout is the same whatever order members were added in.
    const members = this.entries();
    let total = 0;
    const counts = members.map((member) => {
      const count = Math.max(1, Math.round(this.virtualNodes * member.weight));
      total += count;
      return count;
    });
    const packed = new Float64Array(total);
    let at = 0;
    for (let index = 0; index < members.length; index++) {
      const id = members[index]!.id;
      for (let i = 0; i < counts[index]!; i++) packed[at++] = (this.hash(`${id}#${i}`) >>> 0) * HASH_RING_MAX_MEMBERS + index;
    }
    packed.sort();
    this.points = new Uint32Array(total);
    this.owners = new Array<string>(total);
    for (let i = 0; i < total; i++) {
      const key = packed[i]!;
      const index = key % HASH_RING_MAX_MEMBERS;
      this.points[i] = (key - index) / HASH_RING_MAX_MEMBERS;
      this.owners[i] = members[index]!.id;
    }
  }

  /** Binary search for the first point >= hash, wrapping to 0 past the last point. */
  private firstPointAtOrAfter(hash: number): number {
    const target = hash >>> 0;
    let low = 0;
    let high = this.points.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.points[mid]! < target) low = mid + 1;
      else high = mid;
    }
    return low === this.points.length ? 0 : low;
  }
}
