import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheRedisConnection } from '@agora/platform';
import { postgresBackend, natsAvailable } from '@agora/platform/testing';
import { OwnRedis, redisServerInstalled } from '../support/own-redis.js';
import { Shop, eventually, mapLimit, type Shopper } from '../support/shop.js';
import { createSale, ordersOfSale, purchase, saleBody, saleRow } from '../support/flash-sale.js';

const UNITS = 40;
const FIRST_WAVE = 20;
const BUYERS = 120;
const REGISTER_CONCURRENCY = 8;
const RECONCILE_MS = 300;
const SETUP_TIMEOUT_MS = 3 * 60_000;
const RUN_TIMEOUT_MS = 3 * 60_000;

/**
 * Redis restarted mid-sale (its own server, no persistence, killed with SIGKILL): the counter's
 * state is gone; the reconciler reloads it from PostgreSQL, and the sale goes on to sell exactly
 * its units, no buyer over the limit, no 5xx before or after — on PostgreSQL and NATS.
 */
describe.runIf((await postgresBackend.available()) && (await natsAvailable()) && redisServerInstalled())('flash sale across a Redis restart', () => {
  let redis: OwnRedis;
  let shop: Shop;
  let buyers: Shopper[];

  beforeAll(async () => {
    redis = await OwnRedis.start();
    shop = await Shop.open(
      { name: 'postgres+nats', backend: postgresBackend, nats: true, available: async () => true },
      { REDIS_URL: redis.url, AGORA_FLASH_SALE_RECONCILE_MS: String(RECONCILE_MS), AGORA_CATALOG_CACHE: 'off' },
    );
    buyers = await mapLimit(Array.from({ length: BUYERS }), REGISTER_CONCURRENCY, () => shop.register('restart'));
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await shop?.stop();
    await redis?.kill();
  });

  it(
    `sells exactly ${UNITS} units when Redis restarts empty after ${FIRST_WAVE} were sold`,
    async () => {
      const sku = await shop.sku(2_500, UNITS, 'RESTART');
      const sale = await createSale(shop, saleBody(sku, UNITS, 1));
      const first = await Promise.all(buyers.slice(0, FIRST_WAVE).map((buyer) => purchase(shop, buyer, sale.id)));
      expect(first.map((a) => a.status)).toEqual(Array.from({ length: FIRST_WAVE }, () => 202));
      await eventually('first wave taken', () => saleRow(shop, sale.id), (row) => row.sold === FIRST_WAVE);

      await redis.kill();
      await redis.restart();
      const probe = cacheRedisConnection(redis.url, 'restart-test-reader');
      await probe.connect();
      try {
        // Nothing survived the restart; the reconciler reloads the sale from the database.
        await eventually('counter reloaded', () => probe.get(`agora:flash-sale:{${sale.id}}:remaining`), (value) => value === String(UNITS - FIRST_WAVE), RUN_TIMEOUT_MS / 3);
      } finally {
        probe.disconnect();
      }

      const second = await Promise.all(buyers.map((buyer) => purchase(shop, buyer, sale.id, 1, randomUUID())));
      expect(second.filter((a) => a.status >= 500).map((a) => a.text)).toEqual([]);
      expect(second.filter((a) => a.status === 202)).toHaveLength(UNITS - FIRST_WAVE);
      // The first wave's buyers are known again from the database: over the limit, not sold twice.
      expect(second.slice(0, FIRST_WAVE).map((a) => a.body.code)).toEqual(Array.from({ length: FIRST_WAVE }, () => 'LIMIT_EXCEEDED'));

      const orders = await eventually('orders opened', () => ordersOfSale(shop, sale.id), (o) => o.byStatus.RESERVED === UNITS);
      expect(orders).toEqual({ byStatus: { RESERVED: UNITS }, units: UNITS, buyersOverOne: 0 });
      expect(await saleRow(shop, sale.id)).toEqual({ quantity: UNITS, sold: UNITS });
      expect((await shop.invariants({ allowInFlight: true })).violations).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );
});
