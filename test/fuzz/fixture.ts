import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { postgresBackend } from '@agora/platform/testing';
import type { Api } from '../support/http.js';
import { Shop, type Order, type Shopper } from '../support/shop.js';
import type { SystemVariant } from '../support/system.js';
import { operationsOf, type Operation } from './openapi.js';

/** The JWT secret test systems sign with (test/support/system.ts sets AGORA_JWT_SECRET to it). */
export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789';

export const SEED_ENV = 'AGORA_FUZZ_SEED';
/** The seed CI runs with, so a run is repeatable; `AGORA_FUZZ_SEED=random` draws a fresh one (printed). */
export const DEFAULT_SEED = 20_261_207;

/** The fuzz seed: AGORA_FUZZ_SEED (an integer, or `random`), else DEFAULT_SEED. Printed so any run can be replayed. */
export function fuzzSeed(what: string): number {
  const set = process.env[SEED_ENV];
  let seed = DEFAULT_SEED;
  if (set === 'random') seed = Math.floor(Math.random() * 2 ** 31);
  else if (set !== undefined && set !== '') {
    seed = Number(set);
    if (!Number.isSafeInteger(seed)) throw new Error(`${SEED_ENV} must be an integer or "random", got ${set}`);
  }
  console.info(`${what}: fuzz seed ${seed} (replay with ${SEED_ENV}=${seed})`);
  return seed;
}

/** The suites run on real PostgreSQL (with the in-memory bus: the fuzz checks the HTTP surfaces, not the broker). */
export const postgresVariant: SystemVariant = { name: 'postgres', backend: postgresBackend, nats: false, available: () => postgresBackend.available() };

/**
 * A digest of the state a refused request must not touch: users, products and variants, stock on
 * hand, cart lines, and how many orders, reservations, payments, refunds and webhook events exist.
 * Left out on purpose: login failure counters (a refused login counts by design), reserved units
 * and statuses (expiry sweepers move them), the outbox (its relay marks rows).
 */
const DIGEST = sql.raw(`select md5(concat_ws('|',
  (select md5(coalesce(string_agg(id::text || role || email || name || password_hash || updated_at::text, ',' order by id), '')) from identity.users),
  (select md5(coalesce(string_agg(id::text || name || description || category || updated_at::text, ',' order by id), '')) from catalog.products),
  (select md5(coalesce(string_agg(sku || product_id::text || title || price_amount::text || currency, ',' order by sku), '')) from catalog.variants),
  (select md5(coalesce(string_agg(sku || ':' || on_hand::text, ',' order by sku), '')) from inventory.stock),
  (select md5(coalesce(string_agg(user_id::text || sku || ':' || quantity::text, ',' order by user_id, sku), '')) from cart.cart_lines),
  (select count(*)::text from orders.orders),
  (select count(*)::text from inventory.reservations),
  (select count(*)::text from payment.intents),
  (select count(*)::text from payment.refunds),
  (select count(*)::text from payment.webhook_events)
)) as digest`);

export interface FuzzWorld {
  shop: Shop;
  api: Api;
  operations: Operation[];
  /** The published OpenAPI document's raw JSON. */
  document: unknown;
  customer: Shopper;
  other: Shopper;
  productId: string;
  skus: string[];
  /** A CONFIRMED order of `other`, whose id `customer` must never reach. */
  otherOrder: Order;
  digest(): Promise<string>;
}

/** The system on PostgreSQL with two shoppers, a product with stock and an order of the second shopper. */
export async function openWorld(variant: SystemVariant = postgresVariant, env?: Record<string, string>): Promise<FuzzWorld> {
  const shop = await Shop.open(variant, env);
  try {
    const api = shop.api;
    const published = await api.get('/api/openapi.json');
    expect(published.status).toBe(200);
    const operations = operationsOf(published.body);
    const customer = await shop.register('fuzz-a');
    const other = await shop.register('fuzz-b');
    const { product, skus } = await shop.product([1_000, 2_500], 'FUZZ');
    for (const sku of skus) await shop.stock(sku, 1_000_000);
    const otherOrder = await shop.buy(other, [[skus[0] as string, 1]]);
    const storage = await shop.storage('order');
    const digest = async (): Promise<string> => {
      const [row] = await storage.query<{ digest: string }>(DIGEST);
      if (!row) throw new Error('the state digest returned no row');
      return row.digest;
    };
    return { shop, api, operations, document: published.body, customer, other, productId: product.id, skus, otherOrder, digest };
  } catch (err) {
    await shop.stop();
    throw err;
  }
}

