import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL, redisAvailable } from '@agora/platform/testing';
import { json, buildGateway, type TestGateway } from './fakes.js';

/**
 * Two gateways of one cluster share their rate-limit counters in Redis: a client gets its budget
 * once, not once per gateway. And a Redis that is gone does not take the shop down with it.
 */
describe.runIf(await redisAvailable())('rate limits shared through Redis', () => {
  const opened: { gateways: TestGateway[]; redis: Redis[] } = { gateways: [], redis: [] };
  afterAll(async () => {
    for (const gw of opened.gateways) await gw.app.close();
    for (const r of opened.redis) r.disconnect();
  });

  async function gateway(redisUrl: string, perMinute: number): Promise<TestGateway> {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: false });
    redis.on('error', () => undefined);
    opened.redis.push(redis);
    const gw = await buildGateway({
      config: { rateLimits: { enabled: true, perMinute, authPerMinute: 2, flashSalePurchasesPerSecond: 5_000 }, trustProxy: false },
      rateLimitStore: { redis },
    });
    gw.transport.on('catalog', 'GET', '/categories', json(200, { items: [] }));
    opened.gateways.push(gw);
    return gw;
  }

  it('counts one client across two gateways', async () => {
    const a = await gateway(TEST_REDIS_URL, 4);
    const b = await gateway(TEST_REDIS_URL, 4);
    // A client address no other test run uses, so the shared counter starts at zero.
    const ip = `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    const statuses: number[] = [];
    for (const gw of [a, b, a, b, a, b]) {
      statuses.push((await gw.app.inject({ method: 'GET', url: '/api/v1/categories', remoteAddress: ip })).statusCode);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.slice(4)).toEqual([429, 429]);
  });

  it('fails open when Redis does not answer', async () => {
    const gw = await gateway('redis://127.0.0.1:1', 1);
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/categories' });
    expect(res.statusCode).toBe(200);
  });
});
