import { createServer, connect as connectTcp, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisInvalidationChannel, RedisL2Store, TieredCache, createLogger } from '../src/index.js';
import { TEST_REDIS_URL, deleteRedisKeys, redisAvailable, uniqueRedisPrefix } from '../src/testing/index.js';

const logger = createLogger('cache-test', 'silent');
/** Short, so that the test waits little; the mechanism is the same at 1 s. */
const STALE_BOUND_MS = 300;
const CONNECT_WAIT_MS = 5_000;
/** Pub/sub delivery between two connections of a local Redis, with room for a busy machine. */
const DELIVERY_WAIT_MS = 1_000;

/** A TCP proxy in front of Redis that the test can cut and restore: Redis "going away" for one instance only. */
class CuttableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: URL) {}

  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connectTcp(Number(this.target.port || 6379), this.target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    this.port = address.port;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

describe.runIf(await redisAvailable())('tiered cache when Redis goes away under one instance and comes back', () => {
  const prefix = uniqueRedisPrefix();
  const proxy = new CuttableProxy(new URL(TEST_REDIS_URL));
  const closing: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const c of closing.reverse()) await c.close();
    await proxy.cut();
    await deleteRedisKeys(prefix);
  });

  function instance(url: string, name: string): { cache: TieredCache; channel: RedisInvalidationChannel } {
    const channel = new RedisInvalidationChannel({ url, prefix, logger, name });
    const l2 = new RedisL2Store({ url, prefix, name });
    const cache = new TieredCache({ name: 'products', l2, channel, logger, staleBoundMs: STALE_BOUND_MS });
    closing.push(l2, channel, cache);
    return { cache, channel };
  }

  it('keeps answering while cut off, holds entries no longer than the stale bound, and trusts invalidations again once back', async () => {
    await proxy.open();
    const a = instance(proxy.url, 'a');
    const b = instance(TEST_REDIS_URL, 'b');
    expect(await a.channel.waitUntilConnected(CONNECT_WAIT_MS)).toBe(true);
    expect(await b.channel.waitUntilConnected(CONNECT_WAIT_MS)).toBe(true);
    let value = 'v1';
    let loads = 0;
    const load = async () => {
      loads++;
      return value;
    };
    expect(await a.cache.get('k', load)).toBe('v1');

    await proxy.cut();
    await until(() => !a.channel.connected, DELIVERY_WAIT_MS);
    // Redis is gone for A: reads still answer, from the loader.
    expect(await a.cache.get('k', load)).toBe('v1');
    value = 'v2';
    await b.cache.invalidate(['k']);
    // A did not hear it; its entry (kept in untrusted mode) expires within the stale bound.
    const tookMs = await until(async () => (await a.cache.get('k', load)) === 'v2', STALE_BOUND_MS * 3);
    expect(tookMs).toBeLessThanOrEqual(STALE_BOUND_MS * 3);

    await proxy.open();
    expect(await a.channel.waitUntilConnected(CONNECT_WAIT_MS)).toBe(true);
    // Trusted again once restored: an entry now outlives the stale bound...
    await until(async () => {
      await a.cache.get('k', load);
      const before = loads;
      await new Promise((r) => setTimeout(r, STALE_BOUND_MS * 2));
      await a.cache.get('k', load);
      return loads === before;
    }, CONNECT_WAIT_MS);
    // ...and only B's invalidation, heard again, replaces it.
    value = 'v3';
    await b.cache.invalidate(['k']);
    await until(async () => (await a.cache.get('k', load)) === 'v3', DELIVERY_WAIT_MS);
  });
});
