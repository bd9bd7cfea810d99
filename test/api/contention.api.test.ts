import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Shop, expectProblem, mapLimit, type CheckoutAnswer, type OrderStatus, type Shopper } from '../support/shop.js';
import type { ApiResponse } from '../support/http.js';
import { systemVariants } from '../support/system.js';

/** Accounts are made with scrypt (slow on purpose): a few at a time, before the race. */
const REGISTER_CONCURRENCY = 8;
const SETUP_TIMEOUT_MS = 3 * 60_000;
const RACE_TIMEOUT_MS = 3 * 60_000;

const BUYERS = 120;
const UNITS = 25;
const PRICE = 4_200;
/** Where a checkout that answered 202 ends. */
const TERMINAL: readonly OrderStatus[] = ['CONFIRMED', 'REJECTED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED'];

function tally(answers: readonly ApiResponse<CheckoutAnswer>[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const answer of answers) counts[answer.status] = (counts[answer.status] ?? 0) + 1;
  return counts;
}

/**
 * Contention with the order service's default checkout gate: more buyers than units of one SKU,
 * all at once. The gate admits the whole race (it is sized for bursts like this), so every buyer
 * gets a business answer: exactly the stock there is is sold, the rest are clean OUT_OF_STOCK
 * (or, answered 202 under load, end REJECTED), nobody gets a 5xx. Real PostgreSQL only: PGlite serializes every query, so nothing contends there
 * (packages/platform/src/storage/pglite.ts).
 */
for (const variant of systemVariants.filter((v) => v.name !== 'pglite')) {
  describe.runIf(await variant.available())(`contention for one SKU on ${variant.name}`, () => {
    let shop: Shop;
    let sku: string;
    let crowd: Shopper[];

    beforeAll(async () => {
      // No settings: the default admission limits are what is under test.
      shop = await Shop.open(variant);
      sku = await shop.sku(PRICE, UNITS, 'CONTENDED');
      crowd = await shop.registerMany(BUYERS, REGISTER_CONCURRENCY);
      await mapLimit(crowd, REGISTER_CONCURRENCY, (buyer) => shop.add(buyer, sku, 1));
    }, SETUP_TIMEOUT_MS);
    afterAll(async () => shop?.stop());

    it(
      `${BUYERS} buyers, ${UNITS} units, all at once: exactly ${UNITS} CONFIRMED, every other a clean OUT_OF_STOCK, no 5xx`,
      async () => {
        const answers = await Promise.all(crowd.map((buyer) => shop.checkout(buyer, 'tok_visa')));
        const counts = tally(answers);
        expect(
          answers.filter((a) => a.status >= 500).map((a) => a.text),
          JSON.stringify(counts),
        ).toEqual([]);
        // 202: a checkout past its answer bound under this load, its saga still running.
        expect((counts[201] ?? 0) + (counts[202] ?? 0) + (counts[409] ?? 0), JSON.stringify(counts)).toBe(BUYERS);

        const outcomes = await mapLimit(answers, REGISTER_CONCURRENCY, async (answer, i): Promise<OrderStatus> => {
          const buyer = crowd[i] as Shopper;
          if (answer.status === 409) {
            const problem = expectProblem(answer, 409, 'OUT_OF_STOCK');
            expect(problem.order).toMatchObject({ status: 'REJECTED', userId: buyer.id });
            return 'REJECTED';
          }
          expect(answer.body).toMatchObject({ userId: buyer.id, total: { amount: PRICE, currency: 'USD' } });
          if (answer.status === 201) return answer.body.status;
          return (await shop.waitForOrder(buyer, answer.body.id, TERMINAL)).status;
        });
        expect(outcomes.filter((s) => s === 'CONFIRMED')).toHaveLength(UNITS);
        expect(outcomes.filter((s) => s === 'REJECTED')).toHaveLength(BUYERS - UNITS);

        expect(await shop.stockRow(sku)).toEqual({ onHand: 0, reserved: 0 });
        const report = await shop.expectInvariants();
        expect(report.committedBySku[sku]).toBe(UNITS);
        expect(report.ordersByStatus).toEqual({ CONFIRMED: UNITS, REJECTED: BUYERS - UNITS });
        expect(report.captured - report.refunded).toBe(UNITS * PRICE);
      },
      RACE_TIMEOUT_MS,
    );
  });
}
