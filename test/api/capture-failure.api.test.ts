import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Shop, expectProblem, type Order, type OrderStatus } from '../support/shop.js';
import { systemVariants } from '../support/system.js';

const statuses = (order: Order): OrderStatus[] => order.history.map((h) => h.status);

/**
 * A card the provider authorizes but refuses to capture (the sandbox's `tok_capture_fails`): the
 * checkout has already committed the stock when the capture is refused, so it takes the capture
 * compensation path: the stock is restocked, the authorization voided, the order PAYMENT_FAILED.
 */
for (const variant of systemVariants) {
  describe.runIf(await variant.available())(`capture refused at checkout on ${variant.name}`, () => {
    let shop: Shop;

    beforeAll(async () => {
      shop = await Shop.open(variant);
    });
    afterAll(async () => shop?.stop());

    const reservationStatus = async (orderId: string): Promise<string | undefined> => {
      const [row] = await (await shop.storage('inventory')).query<{ status: string }>(sql`select status from inventory.reservations where id = ${orderId}::uuid`);
      return row?.status;
    };
    const intentsOf = async (orderId: string) =>
      (await shop.storage('payment')).query<{ status: string; captured: number; refunded: number }>(sql`
        select status, captured_amount::int as captured, refunded_amount::int as refunded from payment.intents where order_id = ${orderId}::uuid`);
    const attemptOutcomes = async (orderId: string, operation: string): Promise<string[]> => {
      const rows = await (await shop.storage('payment')).query<{ outcome: string | null }>(sql`
        select a.outcome from payment.attempts a join payment.intents i on i.id = a.intent_id
        where i.order_id = ${orderId}::uuid and a.operation = ${operation} order by a.started_at`);
      return rows.map((r) => r.outcome ?? 'unfinished');
    };

    it('tok_capture_fails: 402 PAYMENT_DECLINED, order PAYMENT_FAILED, stock restocked, authorization voided, nothing captured', async () => {
      const shopper = await shop.register();
      const sku = await shop.sku(2_500, 4, 'CAPFAIL');
      const cart = await shop.add(shopper, sku, 2);

      const res = await shop.checkout(shopper, 'tok_capture_fails');
      const problem = expectProblem(res, 402, 'PAYMENT_DECLINED');
      expect(problem.order).toMatchObject({ userId: shopper.id, status: 'PAYMENT_FAILED', total: { amount: 5_000, currency: 'USD' } });
      const order = problem.order as Order;
      expect(statuses(order)).toEqual(['PENDING', 'RESERVED', 'PAYMENT_FAILED']);
      expect(order.history.at(-1)?.reason).toContain('capture_declined');
      expect(await shop.order(shopper, order.id)).toEqual(order);

      // The stock was committed before the capture, so it came back by restocking, not by a release.
      expect(await reservationStatus(order.id)).toBe('RESTOCKED');
      expect(await shop.stockRow(sku)).toEqual({ onHand: 4, reserved: 0 });
      expect(await shop.available(sku)).toBe(4);

      expect(await intentsOf(order.id)).toEqual([{ status: 'VOIDED', captured: 0, refunded: 0 }]);
      const captures = await attemptOutcomes(order.id, 'capture');
      expect(captures.length).toBeGreaterThan(0);
      expect(new Set(captures)).toEqual(new Set(['error']));
      expect(await attemptOutcomes(order.id, 'void')).toEqual(['succeeded']);
      expect(await shop.cart(shopper)).toEqual(cart);

      // Another card buys the same goods.
      const retry = await shop.checkout(shopper, 'tok_visa');
      expect(retry.status, retry.text).toBe(201);
      expect(await shop.stockRow(sku)).toEqual({ onHand: 2, reserved: 0 });
    });

    it('leaves the conservation laws intact', async () => {
      const report = await shop.expectInvariants();
      expect(report.ordersByStatus).toMatchObject({ PAYMENT_FAILED: 1, CONFIRMED: 1 });
      expect(report.confirmedTotal).toBe(5_000);
      expect(report.captured - report.refunded).toBe(5_000);
    });
  });
}
