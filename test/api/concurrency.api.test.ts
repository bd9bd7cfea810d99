import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Shop, expectProblem, mapLimit, type CheckoutAnswer, type Order, type Shopper } from '../support/shop.js';
import type { ApiResponse } from '../support/http.js';
import { systemVariants } from '../support/system.js';

/** Accounts are made with scrypt (slow on purpose): a few at a time, before the clock starts. */
const REGISTER_CONCURRENCY = 8;
const SETUP_TIMEOUT_MS = 5 * 60_000;
const BURST_TIMEOUT_MS = 3 * 60_000;
/** The most AGORA_GATEWAY_TIMEOUT_MS allows. */
const GATEWAY_TIMEOUT_MS = 120_000;

function tally(answers: readonly ApiResponse<CheckoutAnswer>[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const answer of answers) counts[answer.status] = (counts[answer.status] ?? 0) + 1;
  return counts;
}

/**
 * The headline guarantees (docs/checkout.md#stock-on-a-hot-row): a crowd checking out one hot SKU at the same
 * moment, over real HTTP, gets exactly the stock there is — no oversell, nobody refused while a
 * unit is left, no 5xx — and the books balance afterwards. On real PostgreSQL (+NATS) and PGlite.
 */
for (const variant of systemVariants) {
  describe.runIf(await variant.available())(`concurrent checkouts on ${variant.name}`, () => {
    let shop: Shop;
    let hot: string;
    let plenty: string;
    /** 300 buyers, each with their own account and a cart holding one unit of `hot`. */
    let crowd: Shopper[];

    beforeAll(async () => {
      // Correctness, not latency, is under test: on a small shared machine the last of 300
      // simultaneous checkouts may take longer than the gateway's default 10 s bound, which would
      // turn it into a 503 while the order service still completes it correctly. Lift the bound.
      shop = await Shop.open(variant, { AGORA_GATEWAY_TIMEOUT_MS: String(GATEWAY_TIMEOUT_MS) });
      hot = await shop.sku(2_500, 40, 'HOT');
      plenty = await shop.sku(1_000, 100, 'PLENTY');
      crowd = await shop.registerMany(300, REGISTER_CONCURRENCY);
      await mapLimit(crowd, 16, (buyer) => shop.add(buyer, hot, 1));
    }, SETUP_TIMEOUT_MS);
    afterAll(async () => shop?.stop());

    it(
      '300 buyers, 40 units, all at once: exactly 40 CONFIRMED, 260 clean OUT_OF_STOCK, no 5xx',
      async () => {
        const answers = await Promise.all(crowd.map((buyer) => shop.checkout(buyer, 'tok_visa')));
        const counts = tally(answers);
        expect(
          answers.filter((a) => a.status >= 500).map((a) => a.text),
          JSON.stringify(counts),
        ).toEqual([]);
        expect(counts).toEqual({ 201: 40, 409: 260 });

        const winners = new Set<string>();
        answers.forEach((answer, i) => {
          const buyer = crowd[i] as Shopper;
          if (answer.status === 201) {
            expect(answer.body).toMatchObject({ status: 'CONFIRMED', userId: buyer.id, total: { amount: 2_500, currency: 'USD' } });
            winners.add(buyer.id);
          } else {
            const problem = expectProblem(answer, 409, 'OUT_OF_STOCK');
            expect(problem.order).toMatchObject({ status: 'REJECTED', userId: buyer.id });
          }
        });
        expect(winners.size).toBe(40);

        expect(await shop.available(hot)).toBe(0);
        expect(await shop.stockRow(hot)).toEqual({ onHand: 0, reserved: 0 });
        // Winners' carts are empty; the others keep what they wanted.
        const carts = await mapLimit(crowd, 16, (buyer) => shop.cart(buyer));
        carts.forEach((cart, i) => expect(cart.itemCount).toBe(winners.has((crowd[i] as Shopper).id) ? 0 : 1));

        const report = await shop.invariants();
        expect(report.violations, JSON.stringify(report)).toEqual([]);
        expect(report.committedBySku[hot]).toBe(40);
        expect(report.ordersByStatus).toMatchObject({ CONFIRMED: 40, REJECTED: 260 });
        expect(report.captured).toBe(40 * 2_500);
      },
      BURST_TIMEOUT_MS,
    );

    it(
      '100 buyers, 100 units, all at once: every one CONFIRMED (nobody refused while stock remains)',
      async () => {
        // A hundred of the same shoppers (winners and losers alike) now want one unit of `plenty`.
        const fair = crowd.slice(0, 100);
        await mapLimit(fair, 16, async (buyer) => {
          const cleared = await shop.api.delete(`/api/v1/cart/items/${hot}`, { token: buyer.token });
          expect(cleared.status).toBe(200);
          expect((await shop.add(buyer, plenty, 1)).itemCount).toBe(1);
        });

        const answers = await Promise.all(fair.map((buyer) => shop.checkout(buyer, 'tok_visa')));
        expect(tally(answers)).toEqual({ 201: 100 });
        for (const answer of answers) expect((answer.body as Order).status).toBe('CONFIRMED');
        expect(new Set(answers.map((a) => (a.body as Order).id)).size).toBe(100);

        expect(await shop.available(plenty)).toBe(0);
        expect(await shop.stockRow(plenty)).toEqual({ onHand: 0, reserved: 0 });
        const report = await shop.invariants();
        expect(report.violations, JSON.stringify(report)).toEqual([]);
        expect(report.committedBySku[plenty]).toBe(100);
      },
      BURST_TIMEOUT_MS,
    );

    it('leaves the conservation laws intact', async () => {
      const report = await shop.expectInvariants();
      expect(report.ordersByStatus).toEqual({ CONFIRMED: 140, REJECTED: 260 });
      expect(report.captured - report.refunded).toBe(40 * 2_500 + 100 * 1_000);
    });
  });
}
