import { afterAll, describe, expect, it } from 'vitest';
import { Metrics, RedisInvalidationChannel, RedisL2Store, TieredCache, createLogger } from '../src/index.js';
import { TEST_REDIS_URL, deleteRedisKeys, redisAvailable, uniqueRedisPrefix } from '../src/testing/index.js';

const logger = createLogger('cache-test', 'silent');
/** How long a pub/sub message may take between two connections of one local Redis. */
const DELIVERY_WAIT_MS = 1_000;
const CONNECT_WAIT_MS = 3_000;
/** Nothing listens here: a Redis that is down. */
const DEAD_REDIS_URL = 'redis://127.0.0.1:1';

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

describe.runIf(await redisAvailable())('tiered cache on a real Redis (L2 + pub/sub)', () => {
  const prefix = uniqueRedisPrefix();
  const opened: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const c of opened.reverse()) await c.close();
    await deleteRedisKeys(prefix);
  });

  async function instance(name: string): Promise<{ cache: TieredCache; channel: RedisInvalidationChannel }> {
    const channel = new RedisInvalidationChannel({ url: TEST_REDIS_URL, prefix, logger, name });
    const l2 = new RedisL2Store({ url: TEST_REDIS_URL, prefix, name });
    const cache = new TieredCache({ name: 'products', l2, channel, logger });
    opened.push(l2, channel, cache);
    expect(await channel.waitUntilConnected(CONNECT_WAIT_MS)).toBe(true);
    await cache.start();
    return { cache, channel };
  }

  it('a value loaded by one instance is served from L2 by the other; an invalidation reaches its L1 within a second', async () => {
    const a = await instance('a');
    const b = await instance('b');
    let value = 'v1';
    let loads = 0;
    const load = async () => {
      loads++;
      return value;
    };
    expect(await a.cache.get('p1', load)).toBe('v1');
    expect(await b.cache.get('p1', load)).toBe('v1');
    expect(loads).toBe(1);
    value = 'v2';
    await a.cache.invalidate(['p1']);
    await until(() => b.cache.size === 0, DELIVERY_WAIT_MS);
    expect(await b.cache.get('p1', load)).toBe('v2');
    expect(loads).toBe(2);
  });

  it('a new generation from one instance empties the other', async () => {
    const a = await instance('c');
    const b = await instance('d');
    await a.cache.get('page', async () => 'old');
    expect(await b.cache.get('page', async () => 'unused')).toBe('old');
    await a.cache.invalidateAll();
    await until(() => b.cache.currentGeneration === a.cache.currentGeneration, DELIVERY_WAIT_MS);
    expect(await b.cache.get('page', async () => 'new')).toBe('new');
  });
});

describe('tiered cache when Redis does not answer', () => {
  it('serves from L1 and the loader, never an error, and counts the failures', async () => {
    const metrics = new Metrics(false);
    const prefix = uniqueRedisPrefix();
    const channel = new RedisInvalidationChannel({ url: DEAD_REDIS_URL, prefix, logger });
    const l2 = new RedisL2Store({ url: DEAD_REDIS_URL, prefix });
    const cache = new TieredCache({ name: 'products', l2, channel, metrics, logger });
    try {
      await cache.start();
      let loads = 0;
      const load = async () => `v${++loads}`;
      expect(await cache.get('p', load)).toBe('v1');
      // Not trusted without its channel: kept, but only for the stale bound.
      expect(await cache.get('p', load)).toBe('v1');
      await cache.invalidate(['p']);
      await cache.invalidateAll();
      expect(await cache.get('p', load)).toBe('v2');
      expect(await metrics.text()).toMatch(/agora_cache_l2_errors_total\{cache="products",operation="read"\} [1-9]/);
      expect(channel.connected).toBe(false);
    } finally {
      await cache.close();
      await l2.close();
      await channel.close();
    }
  });
});
