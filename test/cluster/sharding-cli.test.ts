import { describe, expect, it } from 'vitest';
import { ConfigError } from '@agora/kernel';
import { assertValidMap, evenRanges, initialMap, type ShardMap } from '@agora/platform';
import { changedMap } from '../../apps/agora/src/shards.js';

const A = 'postgres://h/a';
const B = 'postgres://h/b';
const C = 'postgres://h/c';

/** `agora shards add|remove|rebalance`: the map each asks for, always one the router accepts. */
describe('agora shards: the next map', () => {
  const hash = initialMap('order', [A, B]);

  it('add: a new member with the next free id; the same database twice is refused', () => {
    const next = changedMap(hash, { kind: 'add', url: C, weight: 2 });
    expect(next.members.map((m) => [m.id, m.url, m.weight])).toEqual([
      ['s0', A, 1],
      ['s1', B, 1],
      ['s2', C, 2],
    ]);
    expect(() => changedMap(hash, { kind: 'add', url: A })).toThrow(ConfigError);
  });

  it('remove: the member goes; an unknown id or the last shard is refused, naming it', () => {
    expect(changedMap(hash, { kind: 'remove', id: 's0' }).members.map((m) => m.id)).toEqual(['s1']);
    expect(() => changedMap(hash, { kind: 'remove', id: 's9' })).toThrow(/no shard s9/);
    expect(() => changedMap(initialMap('order', undefined), { kind: 'remove', id: 's0' })).toThrow(/only shard/);
  });

  it('remove on a range map hands the interval to a neighbour, so the intervals still cover the key space', () => {
    const ranged: ShardMap = { ...hash, strategy: 'range', members: evenRanges(initialMap('cart', [A, B, C]).members) };
    for (const id of ['s0', 's1', 's2']) {
      const next = changedMap(ranged, { kind: 'remove', id });
      expect(() => assertValidMap({ ...next, service: 'cart', version: 2 }), id).not.toThrow();
      expect(next.members).toHaveLength(2);
    }
    expect(() => changedMap(ranged, { kind: 'add', url: 'postgres://h/d' })).toThrow(/key ranges/);
  });

  it('rebalance: new weights for named shards only', () => {
    expect(changedMap(hash, { kind: 'rebalance', weights: { s1: 3 } }).members.map((m) => m.weight)).toEqual([1, 3]);
    expect(changedMap(hash, { kind: 'rebalance' }).members).toEqual(hash.members);
    expect(() => changedMap(hash, { kind: 'rebalance', weights: { s7: 1 } })).toThrow(ConfigError);
  });
});
