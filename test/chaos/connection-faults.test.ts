import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { PostgresStorage, type Storage } from '@agora/platform';
import { TEST_POSTGRES_URL, createTestDatabase, postgresBackend, type TestBackend } from '@agora/platform/testing';
import { Shop, mapLimit, type CheckoutAnswer, type Order, type Shopper } from '../support/shop.js';
import type { ApiResponse } from '../support/http.js';
import type { SystemVariant } from '../support/system.js';

/**
 * A transient fault is never a business outcome (docs/checkout.md), with real faults: the whole
 * system runs as a role whose CONNECTION LIMIT is cut below what its pool wants while shoppers
 * check out with tok_visa, so PostgreSQL refuses connections with a real 53300 (and ends the ones
 * we cut with 57P01) in every service — order, inventory, payment. Every order still ends
 * CONFIRMED: the request that met the fault got 503 + Retry-After and was retried with its key,
 * the saga retried its steps or was parked and recovered. None is PAYMENT_FAILED or REJECTED.
 */

const BUYERS = 16;
/** The pool wants this many connections; the role may hold `STARVED_LIMIT` during the burst. */
const POOL_MAX = 12;
const STARVED_LIMIT = 3;
const ROOMY_LIMIT = 40;
/** A shopper's client: retries a 503 with the same Idempotency-Key, this often at most. */
const CHECKOUT_ATTEMPTS = 40;
const RETRY_PAUSE_MS = 250;
const SETTLE_TIMEOUT_MS = 90_000;
const SETUP_TIMEOUT_MS = 3 * 60_000;
const TEST_TIMEOUT_MS = 4 * 60_000;

const available = await postgresBackend.available();

/** Connection refusals for "too many connections" seen by any pool of this process (proves the fault fired). */
let refusals = 0;
function countRefusals(): () => void {
  const prototype = pg.Pool.prototype as unknown as { connect: (...args: unknown[]) => unknown };
  const original = prototype.connect;
  prototype.connect = function (this: unknown, ...args: unknown[]) {
    const callback = args[0];
    if (typeof callback === 'function') {
      return original.call(this, (err: unknown, ...rest: unknown[]) => {
        if ((err as { code?: string } | undefined)?.code === '53300') refusals++;
        (callback as (...a: unknown[]) => void)(err, ...rest);
      });
    }
    return (original.call(this) as Promise<unknown>).catch((err: unknown) => {
      if ((err as { code?: string }).code === '53300') refusals++;
      throw err;
    });
  };
  return () => {
    prototype.connect = original;
  };
}

describe.runIf(available)('checkouts while PostgreSQL refuses connections (real 53300)', () => {
  const role = `agora_starved_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  let admin: Storage;
  let shop: Shop;
  let crowd: Shopper[];
  let restore: () => void;

  const setLimit = (limit: number) => admin.query(sql.raw(`alter role ${role} connection limit ${limit}`));

  beforeAll(async () => {
    restore = countRefusals();
    const starvedBackend: TestBackend = {
      kind: 'postgres',
      available: async () => true,
      async open() {
        const database = await createTestDatabase('agora_starved');
        admin = new PostgresStorage({ url: database.url, poolMax: 2 });
        await admin.query(sql.raw(`create role ${role} login connection limit ${ROOMY_LIMIT}`));
        await admin.query(sql.raw(`grant all on database "${new URL(database.url).pathname.slice(1)}" to ${role}`));
        await admin.query(sql.raw(`grant all on schema public to ${role}`));
        const url = new URL(database.url);
        url.username = role;
        // A short wait for a free connection: the pool's own timeout is a transient fault too.
        const storage = new PostgresStorage({ url: url.toString(), poolMax: POOL_MAX, connectionTimeoutMs: 2_000 });
        return {
          storage,
          url: url.toString(),
          async release() {
            await storage.close();
            await admin.query(sql.raw(`select pg_terminate_backend(pid) from pg_stat_activity where usename = '${role}'`));
            await admin.close();
            await database.drop();
            const server = new pg.Client({ connectionString: TEST_POSTGRES_URL });
            await server.connect();
            try {
              await server.query(`drop role if exists ${role}`);
            } finally {
              await server.end();
            }
          },
        };
      },
    };
    const variant: SystemVariant = { name: 'starved', backend: starvedBackend, nats: false, available: async () => true };
    shop = await Shop.open(variant, { AGORA_SAGA_RECOVERY_INTERVAL_MS: '300', AGORA_SAGA_LEASE_MS: '3000' });
    const skus = await mapLimit(
      Array.from({ length: BUYERS }, (_, i) => i),
      4,
      () => shop.sku(900, 2, 'STARVE'),
    );
    crowd = await shop.registerMany(BUYERS, 8);
    await mapLimit(crowd, 8, (buyer, i) => shop.add(buyer, skus[i] ?? '', 1));
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    restore?.();
    await shop?.stop();
  });

  /** One shopper's client: the same key until an answer that is not a 503. */
  async function checkout(buyer: Shopper): Promise<ApiResponse<CheckoutAnswer>> {
    const key = randomUUID();
    let answer = await shop.checkout(buyer, 'tok_visa', key);
    for (let attempt = 1; answer.status === 503 && attempt < CHECKOUT_ATTEMPTS; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
      answer = await shop.checkout(buyer, 'tok_visa', key);
    }
    return answer;
  }

  it(
    `${BUYERS} tok_visa checkouts while the role may hold ${STARVED_LIMIT} of the ${POOL_MAX} connections its pool wants: every order CONFIRMED, none PAYMENT_FAILED`,
    async () => {
      await setLimit(STARVED_LIMIT);
      // The connections the pool holds now are ended (57P01): it must reconnect, and is refused.
      await admin.query(sql.raw(`select pg_terminate_backend(pid) from pg_stat_activity where usename = '${role}'`));
      const before = refusals;
      const answers = await Promise.all(crowd.map((buyer) => checkout(buyer)));
      expect(refusals - before, 'PostgreSQL refused connections during the burst').toBeGreaterThan(0);
      await setLimit(ROOMY_LIMIT);

      expect(answers.filter((a) => a.status !== 201 && a.status !== 202).map((a) => `${a.status} ${a.text}`)).toEqual([]);
      const orders: Order[] = [];
      for (const [i, answer] of answers.entries()) {
        const buyer = crowd[i] as Shopper;
        orders.push(await shop.waitForOrder(buyer, answer.body.id, ['CONFIRMED', 'PAYMENT_FAILED', 'REJECTED', 'EXPIRED', 'CANCELLED'], SETTLE_TIMEOUT_MS));
      }
      expect(orders.map((o) => o.status).filter((s) => s !== 'CONFIRMED')).toEqual([]);
      await shop.expectInvariants();
    },
    TEST_TIMEOUT_MS,
  );
});
