import { describe, expect, it } from 'vitest';
import { InMemoryInvalidationChannel, InMemoryL2Store, Metrics, TieredCache, type InvalidationListener, type TieredCacheOptions } from '../src/index.js';

const STAMPEDE_CALLERS = 200;
const TTL_MS = 10_000;
const JITTER = 0.1;
/** A clock that starts well after 0: lru-cache reads a start time of 0 as "no TTL". */
const T0 = 1_000_000;

/** A promise the test opens when it chooses: holds loads in flight to force the overlap. */
function gate(): { open: () => void; wait: Promise<void> } {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { open, wait };
}

function cache(overrides: Partial<TieredCacheOptions> = {}): TieredCache {
  return new TieredCache({ name: 'test', ttlMs: TTL_MS, jitterRatio: JITTER, ...overrides });
}

describe('single-flight under a stampede', () => {
  it(`${STAMPEDE_CALLERS} concurrent gets of one cold key run the loader once and all get its value`, async () => {
    const c = cache({ l2: new InMemoryL2Store(), channel: new InMemoryInvalidationChannel() });
    const g = gate();
    let loads = 0;
    const load = async () => {
      loads++;
      await g.wait;
      return 'v1';
    };
    const answers = Array.from({ length: STAMPEDE_CALLERS }, () => c.get('hot', load));
    // Every caller has missed L1 and joined before the load may finish: the race happened.
    await new Promise((r) => setImmediate(r));
    expect(loads).toBe(1);
    g.open();
    expect(new Set(await Promise.all(answers))).toEqual(new Set(['v1']));
    expect(loads).toBe(1);
    expect(await c.get('hot', load)).toBe('v1');
    expect(loads).toBe(1);
  });

  it('getMany whose load fails rejects, and leaves no rejection of another key unhandled (Node would exit on it)', async () => {
    const c = cache();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await expect(c.getMany(['a', 'b', 'c'], () => Promise.reject(new Error('database restarting')))).rejects.toThrow('database restarting');
      // Unhandled rejections are reported after the microtasks of the turn that made them.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('getMany loads the keys missing everywhere in one call and joins loads already running', async () => {
    const c = cache();
    const g = gate();
    const single = c.get('b', async () => {
      await g.wait;
      return 'B';
    });
    const batches: string[][] = [];
    const many = c.getMany(['a', 'b', 'c', 'a'], async (keys) => {
      batches.push(keys);
      return new Map(keys.filter((k) => k !== 'c').map((k) => [k, k.toUpperCase()]));
    });
    g.open();
    expect(await single).toBe('B');
    expect([...(await many)]).toEqual([
      ['a', 'A'],
      ['c', undefined],
      ['b', 'B'],
    ]);
    expect(batches).toEqual([['a', 'c']]);
  });

  it('a loader that fails fails its waiters, stores nothing, and the next get loads again', async () => {
    const c = cache();
    let loads = 0;
    const failing = async () => {
      loads++;
      throw new Error('database down');
    };
    await expect(Promise.all([c.get('k', failing), c.get('k', failing)])).rejects.toThrow('database down');
    expect(loads).toBe(1);
    expect(await c.get('k', async () => 'ok')).toBe('ok');
  });
});

describe('TTL, jitter and negative entries', () => {
  it('an entry lives its jittered TTL in L1, then is loaded again', async () => {
    const clock = { t: T0 };
    const c = cache({ now: () => clock.t, random: () => 0 });
    let loads = 0;
    const load = async () => `v${++loads}`;
    expect(await c.get('k', load)).toBe('v1');
    clock.t = T0 + TTL_MS * (1 - JITTER);
    expect(await c.get('k', load)).toBe('v1');
    clock.t += 1;
    expect(await c.get('k', load)).toBe('v2');
  });

  it('caches "absent" for its shorter TTL: a missing key is not asked for again meanwhile', async () => {
    const clock = { t: T0 };
    const NEGATIVE_TTL_MS = 500;
    const c = cache({ now: () => clock.t, random: () => 0.5, negativeTtlMs: NEGATIVE_TTL_MS });
    let loads = 0;
    const load = async () => void loads++;
    expect(await c.get('nope', load)).toBeUndefined();
    expect(await c.get('nope', load)).toBeUndefined();
    expect(loads).toBe(1);
    clock.t = T0 + NEGATIVE_TTL_MS + 1;
    await c.get('nope', load);
    expect(loads).toBe(2);
  });
});

describe('invalidation between two instances (shared L2, one channel)', () => {
  function pair() {
    const l2 = new InMemoryL2Store();
    const channel = new InMemoryInvalidationChannel();
    return { l2, channel, a: cache({ l2, channel }), b: cache({ l2, channel }) };
  }

  it('L2 serves the second instance; an invalidation through one reaches the other L1 and L2', async () => {
    const { a, b } = pair();
    let value = 'old';
    let loads = 0;
    const load = async () => {
      loads++;
      return value;
    };
    expect(await a.get('p', load)).toBe('old');
    expect(await b.get('p', load)).toBe('old');
    expect(loads).toBe(1);
    value = 'new';
    await a.invalidate(['p']);
    expect(b.size).toBe(0);
    expect(await b.get('p', load)).toBe('new');
    expect(await a.get('p', load)).toBe('new');
    expect(loads).toBe(2);
    await Promise.all([a.close(), b.close()]);
  });

  it('a load that overlaps an invalidation of its key answers but stores nothing', async () => {
    const { a, b } = pair();
    const g = gate();
    const slow = a.get('p', async () => {
      await g.wait;
      return 'read-before-the-write';
    });
    await new Promise((r) => setImmediate(r));
    await b.invalidate(['p']);
    g.open();
    expect(await slow).toBe('read-before-the-write');
    expect(await a.get('p', async () => 'fresh')).toBe('fresh');
    expect(await b.get('p', async () => 'unused')).toBe('fresh');
  });

  it('invalidateAll starts a new generation everywhere: older entries are gone from every tier', async () => {
    const { a, b } = pair();
    await a.get('page-1', async () => 'old page');
    await b.get('page-1', async () => 'old page');
    await b.invalidateAll();
    expect(a.currentGeneration).toBe(b.currentGeneration);
    expect(await a.get('page-1', async () => 'new page')).toBe('new page');
    expect(await b.get('page-1', async () => 'unused')).toBe('new page');
  });

  it('without L2, a new generation anywhere is a new generation in every instance whatever its count', async () => {
    const channel = new InMemoryInvalidationChannel();
    const b = cache({ channel });
    for (let i = 0; i < 3; i++) await b.invalidateAll();
    // a joins later: its own count (0) is behind b's (3), and its generation must still reach b.
    const a = cache({ channel });
    await b.get('page', async () => 'old');
    await a.invalidateAll();
    expect(await b.get('page', async () => 'new')).toBe('new');
  });
});

describe('when the shared tier fails', () => {
  it('answers from L1 or the loader, never an error, and counts the failures', async () => {
    const l2 = new InMemoryL2Store();
    const metrics = new Metrics(false);
    const c = cache({ l2, channel: new InMemoryInvalidationChannel(), metrics });
    expect(await c.get('a', async () => 'A')).toBe('A');
    l2.down = true;
    expect(await c.get('a', async () => 'unused')).toBe('A');
    expect(await c.get('b', async () => 'B')).toBe('B');
    await c.invalidate(['a']);
    await c.invalidateAll();
    expect(await c.get('a', async () => 'A2')).toBe('A2');
    const text = await metrics.text();
    expect(text).toMatch(/agora_cache_l2_errors_total\{cache="test",operation="read"\} [1-9]/);
    expect(text).toMatch(/agora_cache_l2_errors_total\{cache="test",operation="delete"\} 1/);
    expect(text).toMatch(/agora_cache_requests_total\{cache="test",tier="l1",result="hit"\} 1/);
    await c.close();
  });

  it('an invalidation L2 refused is sent again once L2 answers: no instance reads the old value from it', async () => {
    const RETRY_MS = 30;
    const l2 = new InMemoryL2Store();
    const channel = new InMemoryInvalidationChannel();
    const a = cache({ l2, channel, staleBoundMs: RETRY_MS, secondDeleteDelayMs: RETRY_MS });
    const b = cache({ l2, channel, staleBoundMs: RETRY_MS, secondDeleteDelayMs: RETRY_MS });
    await a.get('k', async () => 'old');
    l2.down = true;
    await a.invalidate(['k']);
    l2.down = false;
    // Right now L2 still holds the old value; the retry removes it.
    expect(await l2.get('test:0:k')).toBe('old');
    await new Promise((r) => setTimeout(r, RETRY_MS * 4));
    expect(await l2.get('test:0:k')).toBeUndefined();
    expect(await b.get('k', async () => 'new')).toBe('new');
    await Promise.all([a.close(), b.close()]);
  });

  it('while the channel is lost, L1 keeps entries only for the stale bound', async () => {
    const clock = { t: T0 };
    const STALE_BOUND_MS = 1_000;
    let listener: InvalidationListener | undefined;
    const channel = { connected: true, publish: async () => undefined, listen: (_: string, l: InvalidationListener) => void (listener = l), close: async () => undefined };
    const c = cache({ l2: new InMemoryL2Store(() => clock.t), channel, now: () => clock.t, staleBoundMs: STALE_BOUND_MS });
    let loads = 0;
    const load = async () => `v${++loads}`;
    await c.get('k', load);
    listener?.lost();
    expect(c.size).toBe(0);
    expect(await c.get('k', load)).toBe('v1');
    expect(await c.get('k', load)).toBe('v1');
    clock.t += STALE_BOUND_MS + 1;
    // L1 let it go; L2 (still up) answered it again.
    expect(await c.get('k', load)).toBe('v1');
    expect(loads).toBe(1);
  });
});

describe('metrics', () => {
  it('counts hits and misses per tier, loads by outcome and evictions by policy', async () => {
    const metrics = new Metrics(false);
    const c = cache({ metrics, maxEntries: 2, policy: 'fifo' });
    for (const key of ['a', 'b', 'c', 'a']) await c.get(key, async (k) => (k === 'c' ? undefined : k));
    const text = await metrics.text();
    expect(text).toMatch(/agora_cache_requests_total\{cache="test",tier="l1",result="miss"\} 4/);
    expect(text).toMatch(/agora_cache_loads_total\{cache="test",outcome="found"\} 3/);
    expect(text).toMatch(/agora_cache_loads_total\{cache="test",outcome="absent"\} 1/);
    expect(text).toMatch(/agora_cache_evictions_total\{cache="test",policy="fifo"\} 2/);
  });
});
