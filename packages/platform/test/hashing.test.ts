import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HASH_RING_DEFAULTS, HashRing, jumpHash, murmur3, rendezvousPick, rendezvousRank } from '../src/index.js';

/** Fixed seeds: a distribution bound is checked on the same samples every run, never flaky. */
const SEED = { seed: 20_260_101 } as const;

const keys = (count: number, prefix = 'key'): string[] => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
const nodeIds = fc.uniqueArray(fc.stringMatching(/^[a-z0-9-]{1,12}$/), { minLength: 2, maxLength: 12 });

function ringOf(ids: readonly string[], virtualNodes?: number): HashRing<string> {
  const ring = new HashRing<string>(virtualNodes === undefined ? {} : { virtualNodes });
  for (const id of ids) ring.add(id, id);
  return ring;
}

describe('murmur3', () => {
  it('matches the reference test vectors (x86, 32-bit)', () => {
    expect(murmur3('', 0)).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('', 0xffffffff)).toBe(0x81f16f39);
    expect(murmur3('hello', 0)).toBe(0x248bfa47);
    expect(murmur3('The quick brown fox jumps over the lazy dog', 0)).toBe(0x2e4ff723);
  });

  it('hashes UTF-8 bytes, so a string and its encoding agree', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(murmur3(s)).toBe(murmur3(new TextEncoder().encode(s)));
        expect(murmur3(s)).toBeGreaterThanOrEqual(0);
        expect(murmur3(s)).toBeLessThan(2 ** 32);
      }),
    );
  });
});

describe('HashRing', () => {
  it('is a pure function of its members: same key → same member, whatever the order of add', () => {
    fc.assert(
      fc.property(nodeIds, fc.array(fc.string(), { maxLength: 30 }), fc.nat(), (ids, sample, shift) => {
        const a = ringOf(ids);
        const rotated = [...ids.slice(shift % ids.length), ...ids.slice(0, shift % ids.length)].reverse();
        const b = ringOf(rotated);
        for (const key of sample) {
          expect(a.lookup(key)).toBe(b.lookup(key));
          expect(a.lookup(key)).toBe(a.lookup(key));
        }
      }),
      { ...SEED, numRuns: 60 },
    );
  });

  it('removing a member remaps exactly the keys it owned (to their next member clockwise), about 1/n of them', () => {
    const sample = keys(2_000);
    fc.assert(
      fc.property(nodeIds, fc.nat(), (ids, pick) => {
        const ring = ringOf(ids);
        const gone = ids[pick % ids.length]!;
        const before = new Map(sample.map((k) => [k, ring.lookup(k)]));
        const fallback = new Map(sample.map((k) => [k, ring.lookupN(k, 2)[1]]));
        ring.remove(gone);
        let moved = 0;
        for (const key of sample) {
          const owner = before.get(key);
          if (owner === gone) {
            moved++;
            expect(ring.lookup(key)).toBe(fallback.get(key));
          } else {
            expect(ring.lookup(key)).toBe(owner);
          }
        }
        // Moved share ≈ 1/n: within ±50% relative for n ≤ 12 (σ of a share ≈ 2.2% at the default points).
        const expected = sample.length / ids.length;
        expect(moved).toBeGreaterThan(expected * 0.5);
        expect(moved).toBeLessThan(expected * 1.5);
      }),
      { ...SEED, numRuns: 25 },
    );
  });

  it('adding a member moves keys only onto it, about 1/(n+1) of them', () => {
    const sample = keys(2_000);
    fc.assert(
      fc.property(nodeIds, (ids) => {
        const [added, ...rest] = ids as [string, ...string[]];
        const ring = ringOf(rest);
        const before = new Map(sample.map((k) => [k, ring.lookup(k)]));
        ring.add(added, added);
        let moved = 0;
        for (const key of sample) {
          const now = ring.lookup(key);
          if (now !== before.get(key)) {
            moved++;
            expect(now).toBe(added);
          }
        }
        const expected = sample.length / ids.length;
        expect(moved).toBeGreaterThan(expected * 0.5);
        expect(moved).toBeLessThan(expected * 1.5);
      }),
      { ...SEED, numRuns: 25 },
    );
  });

  it('virtual nodes balance the hash space: at the default points every share is within ±12% of fair, spread ≈ 1/√V', () => {
    // Theory: a member's share is a sum of V arcs, so its relative deviation from fair has
    // σ ≈ 1/√V (2.2% at V = 2,000). ±12% is ~5σ for the worst member of a sample; the pooled
    // RMS over every member of every sample checks σ itself.
    const sigma = 1 / Math.sqrt(HASH_RING_DEFAULTS.virtualNodes);
    const pooled: number[] = [];
    fc.assert(
      fc.property(fc.uniqueArray(fc.uuid(), { minLength: 2, maxLength: 24 }), (ids) => {
        const ring = ringOf(ids);
        const shares = [...ring.shares().values()];
        expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
        const deviations = shares.map((s) => s * ids.length - 1);
        expect(Math.max(...deviations.map(Math.abs))).toBeLessThan(0.12);
        pooled.push(...deviations);
      }),
      { ...SEED, numRuns: 100 },
    );
    const rms = Math.sqrt(pooled.reduce((a, d) => a + d * d, 0) / pooled.length);
    expect(rms).toBeGreaterThan(sigma * 0.6);
    expect(rms).toBeLessThan(sigma * 1.3);
  });

  it('with one point per member the shares are far more uneven — the reason for virtual nodes', () => {
    const ids = Array.from({ length: 10 }, (_, i) => `node-${i}`);
    const rms = (ring: HashRing<string>) => {
      const d = [...ring.shares().values()].map((s) => s * ids.length - 1);
      return Math.sqrt(d.reduce((a, x) => a + x * x, 0) / d.length);
    };
    expect(rms(ringOf(ids, 1))).toBeGreaterThan(5 * rms(ringOf(ids, 160)));
  });

  it('routes real keys in proportion to the shares, and weight scales a member share', () => {
    const ring = new HashRing<string>();
    ring.add('small', 'small', 1).add('big', 'big', 3);
    const counts = new Map<string, number>();
    for (const key of keys(20_000)) counts.set(ring.lookup(key)!, (counts.get(ring.lookup(key)!) ?? 0) + 1);
    const bigShare = (counts.get('big') ?? 0) / 20_000;
    expect(bigShare).toBeGreaterThan(0.75 - 0.06);
    expect(bigShare).toBeLessThan(0.75 + 0.06);
    expect(ring.shares().get('big')).toBeCloseTo(bigShare, 1);
  });

  it('walk yields each member once, starting at the owner; lookupN gives distinct replicas', () => {
    const ring = ringOf(['a', 'b', 'c', 'd']);
    fc.assert(
      fc.property(fc.string(), (key) => {
        const walked = [...ring.walk(key)].map((m) => m.id);
        expect(walked[0]).toBe(ring.lookup(key));
        expect(new Set(walked).size).toBe(4);
        expect(ring.lookupN(key, 2)).toEqual(walked.slice(0, 2));
      }),
      SEED,
    );
  });

  it('tracks membership: version grows on change, an empty ring finds nothing, replacing a value keeps the layout', () => {
    const ring = new HashRing<{ name: string }>();
    expect(ring.lookup('k')).toBeUndefined();
    expect([...ring.walk('k')]).toEqual([]);
    const v0 = ring.version;
    ring.add('s0', { name: 'first' });
    expect(ring.version).toBeGreaterThan(v0);
    ring.add('s1', { name: 'other' });
    const owner = ring.lookupId('k');
    ring.add(owner!, { name: 'replaced' });
    expect(ring.lookupId('k')).toBe(owner);
    expect(ring.lookup('k')?.name).toBe('replaced');
    expect(ring.remove('nope')).toBe(false);
    expect(ring.entries().map((e) => e.id)).toEqual(['s0', 's1']);
    expect(() => ring.add('bad', { name: 'x' }, 0)).toThrow(RangeError);
  });
});

describe('jump hash', () => {
  it('matches the published reference values (Lamping & Veach C++ code)', () => {
    expect(jumpHash(1n, 1)).toBe(0);
    expect(jumpHash(42n, 57)).toBe(43);
    expect(jumpHash(256n, 1024)).toBe(520);
    expect(jumpHash(0xdead10ccn, 1)).toBe(0);
    expect(jumpHash(0xdead10ccn, 666)).toBe(361);
    expect(jumpHash(16045690984833335023n, 255)).toBe(237);
    expect([jumpHash(0n, 60), jumpHash(1n, 60), jumpHash(2n, 60)]).toEqual([0, 55, 46]);
  });

  it('spreads keys evenly over the buckets', () => {
    const buckets = 10;
    const counts = new Array<number>(buckets).fill(0);
    for (const key of keys(20_000)) counts[jumpHash(key, buckets)]!++;
    for (const count of counts) {
      expect(count).toBeGreaterThan(2_000 * 0.9);
      expect(count).toBeLessThan(2_000 * 1.1);
    }
  });
});

/**
 * The minimal-movement property, stated once and checked on both table-free schemes: going from n
 * to n+1 nodes moves a key only onto the new node, and moves about 1/(n+1) of the keys.
 */
describe('jump hash and rendezvous agree on minimal movement', () => {
  const sample = keys(1_500, 'user');
  const schemes: { name: string; place: (key: string, n: number) => string }[] = [
    { name: 'jump', place: (key, n) => `node-${jumpHash(key, n)}` },
    {
      name: 'rendezvous',
      place: (key, n) => rendezvousPick(key, Array.from({ length: n }, (_, i) => ({ id: `node-${i}` })))!.id,
    },
  ];
  for (const scheme of schemes) {
    it(`${scheme.name}: n → n+1 moves only keys onto node n, ~1/(n+1) of them`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 20 }), (n) => {
          let moved = 0;
          for (const key of sample) {
            const before = scheme.place(key, n);
            const after = scheme.place(key, n + 1);
            if (before !== after) {
              moved++;
              expect(after).toBe(`node-${n}`);
            }
          }
          const expected = sample.length / (n + 1);
          expect(Math.abs(moved - expected)).toBeLessThan(Math.max(4 * Math.sqrt(expected), expected * 0.25));
        }),
        { ...SEED, numRuns: 15 },
      );
    });
  }

  it('rendezvous: removing any node (not only the last, which jump cannot do) moves only its keys, to their runner-up', () => {
    fc.assert(
      fc.property(nodeIds, fc.nat(), (ids, pick) => {
        const nodes = ids.map((id) => ({ id }));
        const gone = ids[pick % ids.length]!;
        const rest = nodes.filter((n) => n.id !== gone);
        for (const key of sample.slice(0, 300)) {
          const [first, second] = rendezvousRank(key, nodes, 2);
          const after = rendezvousPick(key, rest)!.id;
          expect(after).toBe(first!.id === gone ? second!.id : first!.id);
        }
      }),
      { ...SEED, numRuns: 30 },
    );
  });

  it('rendezvous honours weights: a node of weight 3 wins ~3/4 of the keys against one of weight 1', () => {
    const nodes = [{ id: 'light', weight: 1 }, { id: 'heavy', weight: 3 }];
    let heavy = 0;
    for (const key of keys(20_000)) if (rendezvousPick(key, nodes)!.id === 'heavy') heavy++;
    expect(heavy / 20_000).toBeGreaterThan(0.73);
    expect(heavy / 20_000).toBeLessThan(0.77);
  });
});
