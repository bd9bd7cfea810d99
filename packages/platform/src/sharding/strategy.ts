import { HashRing } from '../hashing/ring.js';
import { assertValidMap, compareKeys, type ShardMap, type ShardMember } from './map.js';

/**
 * How a map turns a key into a shard id. A strategy is built from one map version and is a pure
 * function of the key from then on: every instance holding the same version routes every key the
 * same way.
 */
export interface ShardStrategy {
  ownerOf(key: string): string;
}

/**
 * hash (the default): the consistent hash ring, `weight` scaling a member's virtual nodes. Adding
 * a shard moves only ~1/(n+1) of the keys, all of them to the new shard; removing one moves only
 * its own keys (packages/platform/src/hashing/ring.ts).
 */
export class HashStrategy implements ShardStrategy {
  private readonly ring = new HashRing<string>();

  constructor(members: readonly ShardMember[]) {
    for (const member of members) this.ring.add(member.id, member.id, member.weight ?? 1);
  }

  ownerOf(key: string): string {
    const id = this.ring.lookupId(key);
    if (id === undefined) throw new Error('hash strategy over an empty ring');
    return id;
  }
}

/**
 * range: each shard owns an interval `[from, to)` of keys in string order (tenant prefixes, SKU
 * ranges). Moving a boundary moves exactly the keys between the old and the new boundary.
 */
export class RangeStrategy implements ShardStrategy {
  /** Interval starts, ascending, and at the same index the owner. */
  private readonly starts: string[];
  private readonly owners: string[];

  constructor(members: readonly ShardMember[]) {
    const sorted = [...members].sort((a, b) => compareKeys(a.range?.from ?? '', b.range?.from ?? ''));
    this.starts = sorted.map((m) => m.range?.from ?? '');
    this.owners = sorted.map((m) => m.id);
    if (this.starts[0] !== '') throw new RangeError('range strategy: the first interval must start at the beginning of the key space');
  }

  ownerOf(key: string): string {
    // The last interval whose start is <= key (binary search).
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (compareKeys(this.starts[mid]!, key) <= 0) low = mid;
      else high = mid - 1;
    }
    return this.owners[low]!;
  }
}

/** The strategy a (valid) map names. */
export function strategyOf(map: ShardMap): ShardStrategy {
  assertValidMap(map);
  return map.strategy === 'range' ? new RangeStrategy(map.members) : new HashStrategy(map.members);
}
