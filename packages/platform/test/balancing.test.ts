import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigError, ManualClock } from '@agora/kernel';
import {
  BALANCING_STRATEGIES,
  DEFAULT_BALANCING_STRATEGY,
  HealthTracker,
  SmoothWeightedSelector,
  createBalancer,
  parseBalancingConfig,
  seededRandom,
  type Balancer,
  type BalancingStrategy,
  type EndpointBalancer,
  type Endpoint,
} from '../src/index.js';

/** Fixed fast-check seed: the distribution bounds are checked on the same samples every run. */
const SEED = { seed: 7_301_964 } as const;

interface TestEndpoint extends Endpoint {
  readonly url: string;
}

const endpoints = (n: number, weights?: readonly number[]): TestEndpoint[] =>
  Array.from({ length: n }, (_, i) => ({ id: `e${i}`, url: `http://10.0.0.${i}:4000`, ...(weights ? { weight: weights[i]! } : {}) }));

function counts(balancer: Balancer, list: readonly TestEndpoint[], picks: number, key?: (i: number) => string): Map<string, number> {
  const seen = new Map<string, number>(list.map((e) => [e.id, 0]));
  for (let i = 0; i < picks; i++) {
    const picked = balancer.pick(list, key ? { key: key(i) } : {});
    if (picked) seen.set(picked.id, (seen.get(picked.id) ?? 0) + 1);
  }
  return seen;
}

function chiSquare(observed: readonly number[], expected: readonly number[]): number {
  return observed.reduce((sum, o, i) => sum + (o - expected[i]!) ** 2 / expected[i]!, 0);
}

/**
 * The χ² value a fair sampler exceeds with probability ~1e-6 (Wilson–Hilferty approximation,
 * z = 4.75). So lenient that only a real bias fails it, which is what these tests are after.
 */
function chiSquareCritical(degreesOfFreedom: number, z = 4.75): number {
  const k = degreesOfFreedom;
  return k * (1 - 2 / (9 * k) + z * Math.sqrt(2 / (9 * k))) ** 3;
}

describe('round-robin', () => {
  it('visits every endpoint exactly k times in k×n picks, from any starting point', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 10 }), fc.integer(), (n, k, seed) => {
        const list = endpoints(n);
        const balancer = createBalancer('round-robin', { random: seededRandom(seed) });
        const seen = counts(balancer, list, k * n);
        for (const count of seen.values()) expect(count).toBe(k);
      }),
      SEED,
    );
  });
});

describe('smooth weighted round-robin', () => {
  it("gives nginx's sequence for weights {a:5, b:1, c:1}: a a b a c a a", () => {
    const list = [
      { id: 'a', weight: 5 },
      { id: 'b', weight: 1 },
      { id: 'c', weight: 1 },
    ];
    const balancer = createBalancer('smooth-weighted');
    const sequence = Array.from({ length: 14 }, () => balancer.pick(list)!.id).join(' ');
    expect(sequence).toBe('a a b a c a a a a b a c a a');
  });

  it('picks each endpoint exactly `weight` times in every cycle of Σweights picks', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 3 }), (weights, cycles) => {
        const list = endpoints(weights.length, weights);
        const total = weights.reduce((a, b) => a + b, 0);
        const balancer = createBalancer('smooth-weighted');
        for (let cycle = 0; cycle < cycles; cycle++) {
          const seen = counts(balancer, list, total);
          list.forEach((e, i) => expect(seen.get(e.id)).toBe(weights[i]));
        }
      }),
      SEED,
    );
  });

  it('is smooth: in any window of L picks an endpoint of weight w gets between ⌊L·w/W⌋−1 and ⌈L·w/W⌉+1', () => {
    // The bound tested: ±1 pick around the ideal share L·w/W, for every window length L ≤ W and
    // every window position over two cycles. (An exhaustive search over random weights found no
    // window beyond ±1; plain weighted round-robin, which sends a's 5 in a row, breaks it at once.)
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 8 }), (weights) => {
        const total = weights.reduce((a, b) => a + b, 0);
        const selector = new SmoothWeightedSelector();
        const list = endpoints(weights.length, weights);
        const sequence = Array.from({ length: 2 * total }, () => Number(selector.select(list).id.slice(1)));
        // prefix[i][t]: picks of endpoint i among the first t.
        const prefix = weights.map((_, i) => {
          const p = [0];
          for (const picked of sequence) p.push(p[p.length - 1]! + (picked === i ? 1 : 0));
          return p;
        });
        const violations: string[] = [];
        for (let length = 1; length <= total; length++) {
          for (let start = 0; start + length <= sequence.length; start++) {
            for (let i = 0; i < weights.length; i++) {
              const got = prefix[i]![start + length]! - prefix[i]![start]!;
              const ideal = (length * weights[i]!) / total;
              if (got > Math.ceil(ideal) + 1 || got < Math.floor(ideal) - 1) violations.push(`e${i} got ${got} of ${length} from ${start}`);
            }
          }
        }
        expect(violations).toEqual([]);
      }),
      { ...SEED, numRuns: 60 },
    );
  });

  it('an endpoint that leaves and comes back restarts from zero, without a burst', () => {
    const list = endpoints(3, [1, 1, 1]);
    const balancer = createBalancer('smooth-weighted');
    for (let i = 0; i < 5; i++) balancer.pick(list);
    for (let i = 0; i < 10; i++) expect(balancer.pick(list.slice(0, 2))!.id).not.toBe('e2');
    const seen = counts(balancer, list, 3);
    expect([...seen.values()]).toEqual([1, 1, 1]);
  });
});

describe('random', () => {
  it('picks in proportion to weight (χ² over 20 000 picks, fixed seeds)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 2, maxLength: 8 }), fc.integer(), (weights, seed) => {
        const list = endpoints(weights.length, weights);
        const balancer = createBalancer('random', { random: seededRandom(seed) });
        const picks = 20_000;
        const seen = counts(balancer, list, picks);
        const total = weights.reduce((a, b) => a + b, 0);
        const statistic = chiSquare([...seen.values()], weights.map((w) => (picks * w) / total));
        expect(statistic).toBeLessThan(chiSquareCritical(weights.length - 1));
      }),
      { ...SEED, numRuns: 30 },
    );
  });
});

describe('least-outstanding', () => {
  it('always picks an endpoint with the fewest requests in flight (equal weights)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 10 }), fc.integer(), (loads, seed) => {
        const list = endpoints(loads.length);
        const balancer = createBalancer('least-outstanding', { random: seededRandom(seed) });
        list.forEach((e, i) => {
          for (let r = 0; r < loads[i]!; r++) balancer.onStart(e);
        });
        const min = Math.min(...loads);
        for (let i = 0; i < 5; i++) expect(loads[list.indexOf(balancer.pick(list)!)]).toBe(min);
      }),
      SEED,
    );
  });

  it('with weights, picks the lowest (outstanding+1)/weight: capacity-relative load', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ load: fc.integer({ min: 0, max: 20 }), weight: fc.integer({ min: 1, max: 100 }) }), { minLength: 1, maxLength: 10 }),
        (specs) => {
          const list = endpoints(specs.length, specs.map((s) => s.weight));
          const balancer = createBalancer('least-outstanding', { random: seededRandom(1) });
          list.forEach((e, i) => {
            for (let r = 0; r < specs[i]!.load; r++) balancer.onStart(e);
          });
          const score = (i: number) => (specs[i]!.load + 1) / specs[i]!.weight;
          const best = Math.min(...specs.map((_, i) => score(i)));
          expect(score(list.indexOf(balancer.pick(list)!))).toBe(best);
        },
      ),
      SEED,
    );
  });

  it('breaks ties at random, so idle endpoints share the load evenly (χ²)', () => {
    const list = endpoints(5);
    const balancer = createBalancer('least-outstanding', { random: seededRandom(42) });
    const seen = counts(balancer, list, 10_000);
    expect(chiSquare([...seen.values()], list.map(() => 2_000))).toBeLessThan(chiSquareCritical(4));
  });

  it('tracks requests in flight through onStart/onEnd', () => {
    const [a] = endpoints(1) as [TestEndpoint];
    const balancer = createBalancer('least-outstanding');
    balancer.onStart(a);
    balancer.onStart(a);
    expect(balancer.outstanding(a.id)).toBe(2);
    balancer.onEnd(a, { ok: true, latencyMs: 10 });
    balancer.onEnd(a, { ok: true, latencyMs: 20 });
    balancer.onEnd(a, { ok: true, latencyMs: 20 });
    expect(balancer.outstanding(a.id)).toBe(0);
    expect(balancer.latencyMs(a.id)).toBeCloseTo(10 + 0.3 * 10 + 0.3 * (20 - 13), 9);
  });
});

describe('power of two choices', () => {
  it('spreads evenly over idle endpoints (χ² over 20 000 picks, fixed seeds)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.integer(), (n, seed) => {
        const list = endpoints(n);
        const balancer = createBalancer('p2c', { random: seededRandom(seed) });
        const seen = counts(balancer, list, 20_000);
        expect(chiSquare([...seen.values()], list.map(() => 20_000 / n))).toBeLessThan(chiSquareCritical(n - 1));
      }),
      { ...SEED, numRuns: 30 },
    );
  });

  it('never picks the one most loaded endpoint: it always loses its comparison', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 2, maxLength: 10 }), fc.integer(), (loads, seed) => {
        const max = Math.max(...loads);
        fc.pre(loads.filter((l) => l === max).length === 1);
        const list = endpoints(loads.length);
        const balancer = createBalancer('p2c', { random: seededRandom(seed) });
        list.forEach((e, i) => {
          for (let r = 0; r < loads[i]!; r++) balancer.onStart(e);
        });
        const worst = list[loads.indexOf(max)]!;
        for (let i = 0; i < 50; i++) expect(balancer.pick(list)).not.toBe(worst);
      }),
      SEED,
    );
  });

  it('keeps a slow endpoint from accumulating requests, where round-robin does not', () => {
    // Five endpoints; e0 answers 10× slower. Requests arrive one per tick and each endpoint
    // finishes requests after its latency: the in-flight peak on e0 shows who noticed.
    const peakOnSlow = (strategy: BalancingStrategy): number => {
      const list = endpoints(5);
      const balancer = createBalancer(strategy, { random: seededRandom(3), outlier: false });
      const finishing: { at: number; endpoint: TestEndpoint }[] = [];
      let peak = 0;
      for (let tick = 0; tick < 5_000; tick++) {
        for (const done of finishing.filter((f) => f.at === tick)) balancer.onEnd(done.endpoint, { ok: true, latencyMs: 1 });
        const picked = balancer.pick(list)!;
        balancer.onStart(picked);
        finishing.push({ at: tick + (picked.id === 'e0' ? 40 : 4), endpoint: picked });
        if (finishing.length > 200) finishing.splice(0, finishing.length - 200);
        peak = Math.max(peak, balancer.outstanding('e0'));
      }
      return peak;
    };
    expect(peakOnSlow('p2c')).toBeLessThan(peakOnSlow('round-robin'));
  });
});

describe('consistent-hash', () => {
  const sample = Array.from({ length: 1_500 }, (_, i) => `user-${i}`);

  it('sends the same key to the same endpoint, on every balancer with the same endpoints', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(fc.string(), { minLength: 1, maxLength: 20 }), (n, keys) => {
        const list = endpoints(n);
        const one = createBalancer('consistent-hash', { random: seededRandom(1) });
        const other = createBalancer('consistent-hash', { random: seededRandom(2) });
        for (const key of keys) {
          const picked = one.pick(list, { key });
          expect(one.pick(list, { key })).toBe(picked);
          expect(other.pick([...list].reverse(), { key })).toBe(picked);
        }
      }),
      SEED,
    );
  });

  it('losing an endpoint remaps only the keys it had (~1/n); adding one moves ~1/(n+1), all onto it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 10 }), fc.nat(), (n, which) => {
        const list = endpoints(n + 1);
        const balancer = createBalancer('consistent-hash');
        const base = list.slice(0, n);
        const before = new Map(sample.map((k) => [k, balancer.pick(base, { key: k })!.id]));
        // Remove one.
        const gone = base[which % n]!.id;
        const fewer = base.filter((e) => e.id !== gone);
        let moved = 0;
        for (const key of sample) {
          const now = balancer.pick(fewer, { key })!.id;
          if (before.get(key) === gone) moved++;
          else expect(now).toBe(before.get(key));
        }
        expect(moved).toBeGreaterThan((sample.length / n) * 0.5);
        expect(moved).toBeLessThan((sample.length / n) * 1.5);
        // Add one.
        let added = 0;
        for (const key of sample) {
          const now = balancer.pick(list, { key })!.id;
          if (now !== before.get(key)) {
            added++;
            expect(now).toBe(list[n]!.id);
          }
        }
        expect(added).toBeGreaterThan((sample.length / (n + 1)) * 0.5);
        expect(added).toBeLessThan((sample.length / (n + 1)) * 1.5);
      }),
      { ...SEED, numRuns: 25 },
    );
  });

  it('falls through to the next endpoint on the ring while one is ejected, and the keys come back after the cool-down', () => {
    const clock = new ManualClock();
    const list = endpoints(4);
    const balancer = createBalancer('consistent-hash', { clock, outlier: { consecutiveFailures: 3, baseEjectionMs: 10_000 } });
    const owner = new Map(sample.map((k) => [k, balancer.pick(list, { key: k })!]));
    const victim = list[1]!;
    for (let i = 0; i < 3; i++) balancer.onEnd(victim, { ok: false, latencyMs: 1 });
    expect(balancer.health.isEjected(victim.id)).toBe(true);
    // While ejected: its keys go where they would go without it; nobody else's key moves.
    const without = createBalancer('consistent-hash');
    const rest = list.filter((e) => e !== victim);
    for (const key of sample) {
      const now = balancer.pick(list, { key })!;
      expect(now).not.toBe(victim);
      if (owner.get(key) === victim) expect(now.id).toBe(without.pick(rest, { key })!.id);
      else expect(now).toBe(owner.get(key));
    }
    clock.advance(10_000);
    for (const key of sample) expect(balancer.pick(list, { key })).toBe(owner.get(key));
  });

  it('gives a heavier endpoint proportionally more keys (virtual nodes scale with weight)', () => {
    const list = endpoints(2, [10, 30]);
    const balancer = createBalancer('consistent-hash');
    const seen = counts(balancer, list, 20_000, (i) => `k${i}`);
    const heavy = (seen.get('e1') ?? 0) / 20_000;
    expect(heavy).toBeGreaterThan(0.68);
    expect(heavy).toBeLessThan(0.82);
  });

  it('balances calls without a key by power of two choices', () => {
    const list = endpoints(4);
    const balancer = createBalancer('consistent-hash', { random: seededRandom(9) });
    const seen = counts(balancer, list, 8_000);
    expect(chiSquare([...seen.values()], list.map(() => 2_000))).toBeLessThan(chiSquareCritical(3));
  });
});

describe('health: discovery state and outlier ejection', () => {
  it('never picks endpoints discovery marks down or draining; none routable → undefined', () => {
    for (const strategy of BALANCING_STRATEGIES) {
      const balancer = createBalancer(strategy, { random: seededRandom(5) });
      const list: TestEndpoint[] = [
        { id: 'up', url: 'http://a', state: 'up' },
        { id: 'suspect', url: 'http://b', state: 'suspect' },
        { id: 'down', url: 'http://c', state: 'down' },
        { id: 'draining', url: 'http://d', state: 'draining' },
      ];
      const seen = counts(balancer, list, 200, (i) => `k${i}`);
      expect(seen.get('down')).toBe(0);
      expect(seen.get('draining')).toBe(0);
      expect((seen.get('up') ?? 0) + (seen.get('suspect') ?? 0)).toBe(200);
      expect(balancer.pick(list.slice(2))).toBeUndefined();
      expect(balancer.pick([])).toBeUndefined();
    }
  });

  it('a failing endpoint stops receiving picks after N consecutive failures and returns after the cool-down', () => {
    for (const strategy of BALANCING_STRATEGIES) {
      const clock = new ManualClock();
      const list = endpoints(4);
      const balancer = createBalancer(strategy, { clock, random: seededRandom(11), outlier: { consecutiveFailures: 5, baseEjectionMs: 10_000 } });
      const bad = list[2]!;
      // Outcomes follow picks; the tracker learns from them how many endpoints there are.
      balancer.pick(list);
      for (let i = 0; i < 4; i++) balancer.onEnd(bad, { ok: false, latencyMs: 1 });
      expect(balancer.health.isEjected(bad.id)).toBe(false);
      balancer.onEnd(bad, { ok: false, latencyMs: 1 });
      expect(balancer.health.isEjected(bad.id)).toBe(true);
      expect(counts(balancer, list, 400, (i) => `k${i}`).get(bad.id)).toBe(0);
      clock.advance(9_999);
      expect(counts(balancer, list, 400, (i) => `k${i}`).get(bad.id)).toBe(0);
      clock.advance(1);
      expect(counts(balancer, list, 400, (i) => `k${i}`).get(bad.id)).toBeGreaterThan(0);
    }
  });

  it('a success resets the failure count: only consecutive failures eject', () => {
    const tracker = new HealthTracker({ consecutiveFailures: 3 }, new ManualClock());
    tracker.filter(endpoints(4));
    for (let round = 0; round < 10; round++) {
      tracker.record('e0', false);
      tracker.record('e0', false);
      tracker.record('e0', true);
    }
    expect(tracker.isEjected('e0')).toBe(false);
  });

  it('doubles the cool-down on repeated ejection up to the cap, and forgives after good behaviour', () => {
    const clock = new ManualClock();
    const tracker = new HealthTracker({ consecutiveFailures: 1, baseEjectionMs: 1_000, maxEjectionMs: 5_000 }, clock);
    tracker.filter(endpoints(4));
    const ejectFor = (): number => {
      tracker.record('e0', false);
      const until = tracker.health('e0').ejectedUntil!.getTime() - clock.now().getTime();
      clock.advance(until);
      return until;
    };
    expect([ejectFor(), ejectFor(), ejectFor(), ejectFor(), ejectFor()]).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);
    // Each base period without trouble forgives one ejection: after 5 s, the count is back to 0.
    clock.advance(5_000);
    expect(ejectFor()).toBe(1_000);
  });

  it('never ejects more than the max-ejection percentage of routable endpoints, nor a lone endpoint', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 100 }),
        fc.array(fc.record({ endpoint: fc.nat(), ok: fc.boolean(), advanceMs: fc.integer({ min: 0, max: 3_000 }) }), { maxLength: 200 }),
        (n, percent, events) => {
          const clock = new ManualClock();
          const list = endpoints(n);
          const balancer = createBalancer('round-robin', { clock, outlier: { consecutiveFailures: 2, baseEjectionMs: 5_000, maxEjectionPercent: percent } });
          const floor = n - Math.min(Math.floor((percent / 100) * n), n - 1);
          for (const event of events) {
            balancer.pick(list);
            balancer.onEnd(list[event.endpoint % n]!, { ok: event.ok, latencyMs: 1 });
            clock.advance(event.advanceMs);
            const eligible = [...counts(balancer, list, 4 * n).values()].filter((c) => c > 0);
            expect(eligible.length).toBeGreaterThanOrEqual(Math.max(1, floor));
          }
        },
      ),
      { ...SEED, numRuns: 60 },
    );
  });

  it('even at 100% keeps one endpoint: a lone endpoint is never ejected', () => {
    const clock = new ManualClock();
    const list = endpoints(3);
    const balancer = createBalancer('round-robin', { clock, outlier: { consecutiveFailures: 1, maxEjectionPercent: 100 } });
    balancer.pick(list);
    for (const e of list) balancer.onEnd(e, { ok: false, latencyMs: 1 });
    expect(list.filter((e) => balancer.health.isEjected(e.id))).toHaveLength(2);
    expect(balancer.pick(list)).toBeDefined();
    const lone = createBalancer('round-robin', { clock, outlier: { consecutiveFailures: 1, maxEjectionPercent: 100 } });
    lone.pick([list[0]!]);
    for (let i = 0; i < 10; i++) lone.onEnd(list[0]!, { ok: false, latencyMs: 1 });
    expect(lone.pick([list[0]!])).toBe(list[0]);
  });

  it('keeps the bound when endpoints leave after ejections: the soonest-returning ejected ones are let back', () => {
    const clock = new ManualClock();
    const tracker = new HealthTracker({ consecutiveFailures: 1, baseEjectionMs: 1_000, maxEjectionPercent: 50 }, clock);
    const list = endpoints(4);
    tracker.filter(list);
    tracker.record('e0', false);
    clock.advance(100);
    tracker.record('e1', false);
    expect(tracker.filter(list).map((e) => e.id)).toEqual(['e2', 'e3']);
    // e2 and e3 leave discovery: of 2 routable endpoints only 1 may be out; e0 ends first, so it is back.
    expect(tracker.filter(list.slice(0, 2)).map((e) => e.id)).toEqual(['e0']);
  });

  it('reports ejections and refusals', () => {
    const tracker = new HealthTracker({ consecutiveFailures: 1, maxEjectionPercent: 50 }, new ManualClock());
    const seen: string[] = [];
    tracker.onEjection((event) => seen.push(`${event.type}:${event.id}`));
    tracker.filter(endpoints(2));
    tracker.record('e0', false);
    tracker.record('e1', false);
    expect(seen).toEqual(['ejected:e0', 'ejection-refused:e1']);
  });

  it('can be turned off', () => {
    const list = endpoints(2);
    const balancer = createBalancer('round-robin', { outlier: false });
    for (let i = 0; i < 50; i++) balancer.onEnd(list[0]!, { ok: false, latencyMs: 1 });
    expect(counts(balancer, list, 10).get('e0')).toBe(5);
  });
});

describe('balancer contract', () => {
  it('returns the caller’s own endpoint objects and fits the service client’s balancer port', () => {
    for (const strategy of BALANCING_STRATEGIES) {
      const list = endpoints(3);
      const port: EndpointBalancer = createBalancer(strategy);
      const picked = port.pick(list, { key: 'user-1' });
      expect(list).toContain(picked);
      port.onStart(picked!);
      port.onEnd(picked!, { ok: true, latencyMs: 3 });
    }
  });

  it('refuses a non-positive weight instead of guessing', () => {
    expect(() => createBalancer('smooth-weighted').pick([{ id: 'a', weight: 0 }])).toThrow(RangeError);
  });
});

describe('balancing config', () => {
  it('defaults to p2c for every service, with Envoy-like outlier defaults', () => {
    const config = parseBalancingConfig({});
    expect(DEFAULT_BALANCING_STRATEGY).toBe('p2c');
    expect(config.strategyFor('catalog')).toBe('p2c');
    expect(config.outlier).toEqual({ consecutiveFailures: 5, baseEjectionMs: 10_000, maxEjectionMs: 300_000, maxEjectionPercent: 50 });
  });

  it('reads a strategy per service and a default', () => {
    const config = parseBalancingConfig({ AGORA_BALANCING: ' catalog:p2c, cart:consistent-hash ,', AGORA_BALANCING_DEFAULT: 'round-robin', AGORA_OUTLIER_CONSECUTIVE_FAILURES: '3' });
    expect(config.strategyFor('catalog')).toBe('p2c');
    expect(config.strategyFor('cart')).toBe('consistent-hash');
    expect(config.strategyFor('order')).toBe('round-robin');
    expect(config.outlier.consecutiveFailures).toBe(3);
  });

  it.each([
    [{ AGORA_BALANCING: 'catalog' }, 'AGORA_BALANCING'],
    [{ AGORA_BALANCING: 'catalog:fastest' }, 'AGORA_BALANCING'],
    [{ AGORA_BALANCING: 'cat alog:p2c' }, 'AGORA_BALANCING'],
    [{ AGORA_BALANCING: 'cart:p2c,cart:random' }, 'AGORA_BALANCING'],
    [{ AGORA_BALANCING: 'a:b:c' }, 'AGORA_BALANCING'],
    [{ AGORA_BALANCING_DEFAULT: 'weighted' }, 'AGORA_BALANCING_DEFAULT'],
    [{ AGORA_OUTLIER_CONSECUTIVE_FAILURES: '0' }, 'AGORA_OUTLIER_CONSECUTIVE_FAILURES'],
    [{ AGORA_OUTLIER_MAX_EJECTION_PERCENT: '101' }, 'AGORA_OUTLIER_MAX_EJECTION_PERCENT'],
    [{ AGORA_OUTLIER_EJECTION_MS: '10000', AGORA_OUTLIER_MAX_EJECTION_MS: '500' }, 'AGORA_OUTLIER_MAX_EJECTION_MS'],
  ])('rejects %j naming %s', (env, variable) => {
    let caught: unknown;
    try {
      parseBalancingConfig(env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(variable);
  });
});
