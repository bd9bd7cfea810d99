import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HASH_RING_DEFAULTS, HashRing, jumpHash, rendezvousPick, type RendezvousNode } from '../src/index.js';

/**
 * The consistent-hashing laws, stated once for the three schemes (ring, rendezvous, jump) and
 * checked on generated member sets and keys. Fixed seeds: a statistical bound is checked on the
 * same samples every run, so it is never flaky, and a seed that fails names its counterexample.
 */
const SEED = { seed: 20_261_207 } as const;

/** The busiest of 10 members may hold at most this many times the mean number of keys. */
const BALANCE_LIMIT = 1.1;
/** Members the balance goal is stated for. */
const BALANCE_MEMBERS = 10;
/** Keys routed per balance run: enough that sampling adds ~1% to the spread of a 10% share. */
const BALANCE_KEYS = 100_000;
/** Moved share when a member joins or leaves: within this relative distance of the ideal 1/n. */
const MOVED_TOLERANCE = 0.5;
/** Weighted shares: within this absolute distance of weight ÷ Σ weights. */
const WEIGHT_SHARE_TOLERANCE = 0.03;

const keys = (count: number, prefix: string): string[] => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
const SAMPLE = keys(2_000, 'order');
const memberIds = fc.uniqueArray(fc.stringMatching(/^[a-z0-9-]{1,16}$/), { minLength: 2, maxLength: 16 });
const weighted = fc.uniqueArray(fc.record({ id: fc.stringMatching(/^[a-z0-9]{1,10}$/), weight: fc.integer({ min: 1, max: 4 }) }), {
  minLength: 2,
  maxLength: 8,
  selector: (m) => m.id,
});

function ringOf(members: readonly { id: string; weight?: number }[]): HashRing<string> {
  const ring = new HashRing<string>();
  for (const m of members) ring.add(m.id, m.id, m.weight ?? 1);
  return ring;
}

/** The two table-based schemes behind one interface: place a key among named members. */
interface Scheme {
  name: string;
  place(members: readonly string[]): (key: string) => string | undefined;
}
const SCHEMES: Scheme[] = [
  {
    name: 'ring',
    place: (members) => {
      const ring = ringOf(members.map((id) => ({ id })));
      return (key) => ring.lookupId(key);
    },
  },
  {
    name: 'rendezvous',
    place: (members) => {
      const nodes: RendezvousNode[] = members.map((id) => ({ id }));
      return (key) => rendezvousPick(key, nodes)?.id;
    },
  },
];

describe.each(SCHEMES)('$name', (scheme) => {
  it('maps every key to a live member, after any sequence of joins and leaves', () => {
    const step = fc.record({ join: fc.boolean(), id: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f') });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 20 }), fc.array(fc.string(), { minLength: 1, maxLength: 20 }), (steps, sample) => {
        const live = new Set<string>();
        for (const s of steps) {
          if (s.join) live.add(s.id);
          else live.delete(s.id);
        }
        const place = scheme.place([...live]);
        for (const key of sample) {
          const owner = place(key);
          if (live.size === 0) expect(owner).toBeUndefined();
          else expect(live.has(owner!)).toBe(true);
        }
      }),
      { ...SEED, numRuns: 100 },
    );
  });

  it('a join of one member to n moves ~1/(n+1) of the keys, every one of them onto the newcomer', () => {
    fc.assert(
      fc.property(memberIds, (ids) => {
        const [joiner, ...rest] = ids as [string, ...string[]];
        const before = scheme.place(rest);
        const after = scheme.place(ids);
        let moved = 0;
        for (const key of SAMPLE) {
          const now = after(key);
          if (now === before(key)) continue;
          moved++;
          expect(now).toBe(joiner);
        }
        const ideal = SAMPLE.length / ids.length;
        expect(Math.abs(moved - ideal)).toBeLessThan(ideal * MOVED_TOLERANCE);
      }),
      { ...SEED, numRuns: 20 },
    );
  });

  it('a leave moves only the keys the leaver held', () => {
    fc.assert(
      fc.property(memberIds, fc.nat(), (ids, pick) => {
        const leaver = ids[pick % ids.length]!;
        const before = scheme.place(ids);
        const after = scheme.place(ids.filter((id) => id !== leaver));
        for (const key of SAMPLE) {
          const owner = before(key);
          if (owner !== leaver) expect(after(key)).toBe(owner);
          else expect(after(key)).not.toBe(leaver);
        }
      }),
      { ...SEED, numRuns: 20 },
    );
  });

  it('the layout does not depend on the order members were added in', () => {
    fc.assert(
      fc.property(memberIds.chain((ids) => fc.tuple(fc.constant(ids), fc.shuffledSubarray(ids, { minLength: ids.length }))), ([ids, shuffled]) => {
        const a = scheme.place(ids);
        const b = scheme.place(shuffled);
        for (const key of SAMPLE.slice(0, 300)) expect(b(key)).toBe(a(key));
      }),
      { ...SEED, numRuns: 30 },
    );
  });
});

describe('ring history', () => {
  it('a ring changed by any sequence of joins, leaves and re-weights routes like one built fresh from its final members', () => {
    const step = fc.record({ op: fc.constantFrom('add', 'remove', 'reweight'), id: fc.constantFrom('a', 'b', 'c', 'd', 'e'), weight: fc.integer({ min: 1, max: 3 }) });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), (steps) => {
        const ring = new HashRing<string>({ virtualNodes: 50 });
        const live = new Map<string, number>();
        for (const s of steps) {
          if (s.op === 'remove') {
            expect(ring.remove(s.id)).toBe(live.delete(s.id));
          } else if (s.op === 'add' || live.has(s.id)) {
            ring.add(s.id, s.id, s.weight);
            live.set(s.id, s.weight);
          }
          ring.lookupId('between steps'); // forces a rebuild now and then, as real traffic does
        }
        const fresh = new HashRing<string>({ virtualNodes: 50 });
        for (const [id, weight] of live) fresh.add(id, id, weight);
        for (const key of SAMPLE.slice(0, 200)) {
          const owner = ring.lookupId(key);
          expect(owner).toBe(fresh.lookupId(key));
          if (live.size === 0) expect(owner).toBeUndefined();
          else expect(live.has(owner!)).toBe(true);
        }
      }),
      { ...SEED, numRuns: 100 },
    );
  });
});

describe('weights', () => {
  it('ring: each member owns weight ÷ Σ weights of the hash space, and of the keys', () => {
    fc.assert(
      fc.property(weighted, (members) => {
        const ring = ringOf(members);
        const total = members.reduce((sum, m) => sum + m.weight, 0);
        const counts = new Map<string, number>();
        for (const key of SAMPLE) counts.set(ring.lookupId(key)!, (counts.get(ring.lookupId(key)!) ?? 0) + 1);
        const shares = ring.shares();
        for (const m of members) {
          expect(Math.abs(shares.get(m.id)! - m.weight / total), m.id).toBeLessThan(WEIGHT_SHARE_TOLERANCE);
          // Keys are a sample of 2,000: add its own spread (≤ 1.1 percentage points at 1σ) to the bound.
          expect(Math.abs((counts.get(m.id) ?? 0) / SAMPLE.length - m.weight / total), m.id).toBeLessThan(WEIGHT_SHARE_TOLERANCE + 0.035);
        }
      }),
      { ...SEED, numRuns: 25 },
    );
  });

  it('rendezvous: each member wins weight ÷ Σ weights of the keys', () => {
    const sample = keys(6_000, 'w');
    fc.assert(
      fc.property(weighted, (members) => {
        const total = members.reduce((sum, m) => sum + m.weight, 0);
        const counts = new Map<string, number>();
        for (const key of sample) {
          const id = rendezvousPick(key, members)!.id;
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
        for (const m of members) expect(Math.abs((counts.get(m.id) ?? 0) / sample.length - m.weight / total), m.id).toBeLessThan(WEIGHT_SHARE_TOLERANCE);
      }),
      { ...SEED, numRuns: 15 },
    );
  });

  it('ring: the weighted layout is independent of insertion order too', () => {
    fc.assert(
      fc.property(weighted, (members) => {
        const a = ringOf(members);
        const b = ringOf([...members].reverse());
        for (const key of SAMPLE.slice(0, 300)) expect(b.lookupId(key)).toBe(a.lookupId(key));
      }),
      { ...SEED, numRuns: 25 },
    );
  });
});

describe(`balance: the busiest of ${BALANCE_MEMBERS} members holds ≤ ${BALANCE_LIMIT} × the mean`, () => {
  const tenIds = fc.uniqueArray(fc.uuid(), { minLength: BALANCE_MEMBERS, maxLength: BALANCE_MEMBERS });

  it(`ring at the default ${HASH_RING_DEFAULTS.virtualNodes} virtual nodes, in the hash space (exact shares)`, () => {
    fc.assert(
      fc.property(tenIds, (ids) => {
        const shares = [...ringOf(ids.map((id) => ({ id }))).shares().values()];
        expect(Math.max(...shares) * BALANCE_MEMBERS).toBeLessThanOrEqual(BALANCE_LIMIT);
      }),
      // A failure is reported as found: shrinking 10 UUIDs re-runs the ring hundreds of times.
      { ...SEED, numRuns: 40, endOnFailure: true },
    );
  });

  it(`ring at the default virtual nodes and rendezvous, on ${BALANCE_KEYS} keys`, () => {
    const sample = keys(BALANCE_KEYS, 'user');
    fc.assert(
      fc.property(tenIds, (ids) => {
        for (const scheme of SCHEMES) {
          const place = scheme.place(ids);
          const counts = new Map<string, number>();
          for (const key of sample) {
            const id = place(key)!;
            counts.set(id, (counts.get(id) ?? 0) + 1);
          }
          expect(Math.max(...counts.values()) / (BALANCE_KEYS / BALANCE_MEMBERS), scheme.name).toBeLessThanOrEqual(BALANCE_LIMIT);
        }
      }),
      { ...SEED, numRuns: 3, endOnFailure: true },
    );
  });

  it('ketama’s 160 points do not meet it in general: the reason the default is higher', () => {
    let failing = 0;
    fc.assert(
      fc.property(tenIds, (ids) => {
        const ring = new HashRing<string>({ virtualNodes: 160 });
        for (const id of ids) ring.add(id, id);
        if (Math.max(...ring.shares().values()) * BALANCE_MEMBERS > BALANCE_LIMIT) failing++;
      }),
      { ...SEED, numRuns: 40 },
    );
    expect(failing).toBeGreaterThan(10);
  });
});

describe('jump hash', () => {
  it('always answers a bucket in [0, n)', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 100_000 }), (key, n) => {
        const bucket = jumpHash(key, n);
        expect(Number.isInteger(bucket) && bucket >= 0 && bucket < n).toBe(true);
      }),
      SEED,
    );
  });

  it('growing n → n+k moves a key only into one of the new buckets, ~k/(n+k) of them', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 5 }), (n, k) => {
        let moved = 0;
        for (const key of SAMPLE) {
          const before = jumpHash(key, n);
          const after = jumpHash(key, n + k);
          if (after === before) continue;
          moved++;
          expect(after).toBeGreaterThanOrEqual(n);
        }
        const ideal = (SAMPLE.length * k) / (n + k);
        expect(Math.abs(moved - ideal)).toBeLessThan(Math.max(ideal * MOVED_TOLERANCE, 5 * Math.sqrt(ideal)));
      }),
      { ...SEED, numRuns: 30 },
    );
  });
});
