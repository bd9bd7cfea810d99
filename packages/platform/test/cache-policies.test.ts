import { describe, expect, it } from 'vitest';
import { FifoStore, L1_POLICIES, LfuStore, LruStore, createL1Store, jitteredTtl, type L1Store, type L1StoreOptions } from '../src/index.js';

const LONG_TTL_MS = 60_000;

function store(policy: 'lru' | 'lfu' | 'fifo', maxEntries: number, evicted: string[] = [], clock = { t: 0 }): L1Store {
  const options: L1StoreOptions = { maxEntries, now: () => clock.t, onEvict: (key) => evicted.push(key) };
  return policy === 'lru' ? new LruStore(options) : policy === 'lfu' ? new LfuStore(options) : new FifoStore(options);
}

describe.each(L1_POLICIES)('L1 store, %s: the contract every policy keeps', (policy) => {
  it('answers what was set, undefined for the rest, and forgets on delete and clear', () => {
    const s = store(policy, 4);
    s.set('a', 'A', LONG_TTL_MS);
    s.set('b', 'B', LONG_TTL_MS);
    expect(s.get('a')).toBe('A');
    expect(s.get('zzz')).toBeUndefined();
    s.set('a', 'A2', LONG_TTL_MS);
    expect(s.get('a')).toBe('A2');
    expect(s.size).toBe(2);
    s.delete('a');
    expect(s.get('a')).toBeUndefined();
    s.clear();
    expect(s.size).toBe(0);
    expect(s.get('b')).toBeUndefined();
  });

  it('expires an entry at its TTL, not before', () => {
    const clock = { t: 1_000 };
    const s = store(policy, 4, [], clock);
    s.set('a', 'A', 100);
    clock.t += 99;
    expect(s.get('a')).toBe('A');
    clock.t += 2;
    expect(s.get('a')).toBeUndefined();
  });

  it('never holds more than maxEntries and reports each eviction once', () => {
    const evicted: string[] = [];
    const s = store(policy, 3, evicted);
    for (let i = 0; i < 10; i++) s.set(`k${i}`, `v${i}`, LONG_TTL_MS);
    expect(s.size).toBe(3);
    expect(evicted).toHaveLength(7);
    expect(new Set(evicted).size).toBe(7);
  });

  it('refuses a size out of range and a TTL that is not positive', () => {
    expect(() => createL1Store(policy, { maxEntries: 0, now: Date.now })).toThrow(/maxEntries/);
    expect(() => store(policy, 2).set('a', 'A', 0)).toThrow(/TTL/);
  });
});

describe('which entry each policy evicts', () => {
  /** a, b, c inserted; a read twice and b once; then d arrives into a store of three. */
  function victimOf(policy: 'lru' | 'lfu' | 'fifo'): string[] {
    const evicted: string[] = [];
    const s = store(policy, 3, evicted);
    s.set('a', 'A', LONG_TTL_MS);
    s.set('b', 'B', LONG_TTL_MS);
    s.set('c', 'C', LONG_TTL_MS);
    s.get('a');
    s.get('a');
    s.get('b');
    s.get('c');
    s.get('b');
    s.set('d', 'D', LONG_TTL_MS);
    return evicted;
  }

  it('LRU evicts the least recently read (a: read first, not since)', () => {
    expect(victimOf('lru')).toEqual(['a']);
  });

  it('LFU evicts the least often read (c: one read against two each)', () => {
    expect(victimOf('lfu')).toEqual(['c']);
  });

  it('FIFO evicts the oldest insert whatever was read (a)', () => {
    expect(victimOf('fifo')).toEqual(['a']);
  });

  it('LFU breaks ties by age and keeps counting after deletes and expiries', () => {
    const clock = { t: 0 };
    const evicted: string[] = [];
    const s = store('lfu', 2, evicted, clock);
    s.set('x', 'X', 10);
    s.set('y', 'Y', LONG_TTL_MS);
    s.get('y');
    clock.t = 20;
    expect(s.get('x')).toBeUndefined();
    s.set('z', 'Z', LONG_TTL_MS);
    s.set('w', 'W', LONG_TTL_MS);
    expect(evicted).toEqual(['z']);
    expect(s.get('y')).toBe('Y');
    expect(s.get('w')).toBe('W');
  });

  it('FIFO counts a rewrite as a new arrival', () => {
    const evicted: string[] = [];
    const s = store('fifo', 2, evicted);
    s.set('a', 'A', LONG_TTL_MS);
    s.set('b', 'B', LONG_TTL_MS);
    s.set('a', 'A2', LONG_TTL_MS);
    s.set('c', 'C', LONG_TTL_MS);
    expect(evicted).toEqual(['b']);
  });
});

describe('TTL jitter', () => {
  const TTL_MS = 10_000;
  const RATIO = 0.1;

  it('stays within ttl * (1 ± ratio) and reaches both ends', () => {
    expect(jitteredTtl(TTL_MS, RATIO, () => 0)).toBe(9_000);
    expect(jitteredTtl(TTL_MS, RATIO, () => 0.999_999)).toBe(11_000);
    expect(jitteredTtl(TTL_MS, RATIO, () => 0.5)).toBe(TTL_MS);
  });

  it('spreads many TTLs over the window instead of one instant', () => {
    const ttls = Array.from({ length: 2_000 }, () => jitteredTtl(TTL_MS, RATIO));
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(9_000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(11_000);
    // 2,000 draws over 2,001 possible values: far more than a handful of distinct ones.
    expect(new Set(ttls).size).toBeGreaterThan(500);
  });

  it('refuses a ratio past its limit and a TTL that is not positive', () => {
    expect(() => jitteredTtl(TTL_MS, 0.6)).toThrow(/ratio/);
    expect(() => jitteredTtl(0, RATIO)).toThrow(/TTL/);
  });
});
