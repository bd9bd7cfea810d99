import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisAvailable, TEST_REDIS_URL, deleteRedisKeys, uniqueRedisPrefix } from '@agora/platform/testing';
import { Shop, eventually, expectFieldError, expectProblem, type Order, type Shopper } from '../support/shop.js';
import { systemVariants } from '../support/system.js';
import { createSale, orderOf, ordersOfSale, purchase, saleBody, saleRow, stats, ticket, type FlashSale } from '../support/flash-sale.js';

/** Short enough for an unpaid order to expire within the test, long enough to pay one at once on a loaded machine. */
const PAYMENT_WINDOW_MS = 4_000;
const SWEEP_MS = 200;
const STOCK = 50;
const EXPIRY_TIMEOUT_MS = 30_000;
const SETUP_TIMEOUT_MS = 120_000;
const DAY_MS = 24 * 60 * 60 * 1000;
/** A sale that closes this soon after it is created, to be bought in once it has ended. */
const SHORT_SALE_MS = 1_500;

/** Payment intents of an order and the money captured on them, as the payment database holds them. */
async function charges(shop: Shop, orderId: string): Promise<{ intents: number; captured: number }> {
  const [row] = await (await shop.storage('payment')).query<{ intents: number; captured: number }>(
    sql`select count(*)::int as intents, coalesce(sum(captured_amount), 0)::int as captured from payment.intents where order_id = ${orderId}::uuid`,
  );
  return { intents: Number(row?.intents), captured: Number(row?.captured) };
}

/**
 * Flash sales through the public API, on embedded PGlite with the in-memory counter and bus (what
 * `npm start` is), and on PostgreSQL with Redis and NATS JetStream (what the cluster is): creating
 * a sale sets its units aside, a purchase answers a ticket at once, the ticket becomes an order to
 * pay within the window, an unpaid order expires and its unit is sold again.
 */
for (const variant of systemVariants) {
  const withRedis = variant.nats;
  describe.runIf(await variant.available() && (!withRedis || (await redisAvailable())))(`flash sales on ${variant.name}${withRedis ? '+redis' : ''}`, () => {
    const prefix = uniqueRedisPrefix('agora_flash_api');
    let shop: Shop;
    let sku: string;
    let buyers: Shopper[];

    beforeAll(async () => {
      shop = await Shop.open(variant, {
        AGORA_FLASH_SALE_PAYMENT_WINDOW_MS: String(PAYMENT_WINDOW_MS),
        AGORA_FLASH_SALE_SWEEP_MS: String(SWEEP_MS),
        AGORA_CATALOG_CACHE: 'off',
        ...(withRedis ? { REDIS_URL: TEST_REDIS_URL, AGORA_FLASH_SALE_PREFIX: prefix } : {}),
      });
      sku = await shop.sku(2_500, STOCK, 'FLASH');
      buyers = await Promise.all(Array.from({ length: 4 }, () => shop.register('flash')));
    }, SETUP_TIMEOUT_MS);
    afterAll(async () => {
      await shop?.stop();
      if (withRedis) await deleteRedisKeys(prefix);
    });

    const buyer = (i: number): Shopper => buyers[i] as Shopper;

    it('creating a sale sets its units aside from stock in one step; more than is available is refused', async () => {
      const before = await shop.available(sku);
      const sale = await createSale(shop, saleBody(sku, 5, 2));
      expect(sale).toMatchObject({ sku, quantity: 5, remaining: 5, perUserLimit: 2, status: 'ACTIVE', price: { amount: 1_500, currency: 'USD' } });
      expect(await shop.available(sku)).toBe(before - 5);
      const read = await shop.api.get<FlashSale>(`/api/v1/flash-sales/${sale.id}`);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ id: sale.id, remaining: 5, status: 'ACTIVE' });

      const tooMany = await shop.api.post('/api/v1/admin/flash-sales', saleBody(sku, STOCK, 1), { token: shop.adminToken });
      expectProblem(tooMany, 409, 'OUT_OF_STOCK');
      expect(await shop.available(sku)).toBe(before - 5);
      const backwards = saleBody(sku, 1, 1);
      const bad = await shop.api.post('/api/v1/admin/flash-sales', { ...backwards, endsAt: backwards.startsAt }, { token: shop.adminToken });
      expectFieldError(bad, 'endsAt');
      expectFieldError(await shop.api.post('/api/v1/admin/flash-sales', saleBody(sku, 1, 1, { startsInMs: 400 * DAY_MS }), { token: shop.adminToken }), 'endsAt');
      expectFieldError(await shop.api.post('/api/v1/admin/flash-sales', saleBody(sku, 1, 2), { token: shop.adminToken }), 'perUserLimit');
      const asCustomer = await shop.api.post('/api/v1/admin/flash-sales', saleBody(sku, 1, 1), { token: buyer(0).token });
      expectProblem(asCustomer, 403, 'FORBIDDEN');
      expectProblem(await shop.api.get(`/api/v1/flash-sales/${randomUUID()}`), 404, 'NOT_FOUND');
    });

    it('answers 202 with a ticket; the same key replays it; limits, sold out and a closed sale are refused with their codes', async () => {
      const sale = await createSale(shop, saleBody(sku, 3, 2));
      const key = randomUUID();
      const first = await purchase(shop, buyer(0), sale.id, 1, key);
      expect(first.status, first.text).toBe(202);
      expect(first.body).toEqual({ ticketId: expect.any(String), status: 'ACCEPTED' });
      const again = await purchase(shop, buyer(0), sale.id, 1, key);
      expect(again.status).toBe(202);
      expect(again.body.ticketId).toBe(first.body.ticketId);
      expectProblem(await purchase(shop, buyer(0), sale.id, 2, key), 422, 'IDEMPOTENCY_MISMATCH');
      expectProblem(await purchase(shop, buyer(0), sale.id, 2), 429, 'LIMIT_EXCEEDED');
      expect((await purchase(shop, buyer(0), sale.id, 1)).status).toBe(202);
      expect((await purchase(shop, buyer(1), sale.id, 1)).status).toBe(202);
      expectProblem(await purchase(shop, buyer(2), sale.id, 1), 409, 'SOLD_OUT');
      const noKey = await shop.api.post(`/api/v1/flash-sales/${sale.id}/purchase`, { quantity: 1 }, { token: buyer(2).token });
      expectFieldError(noKey, 'idempotency-key');
      expectFieldError(await purchase(shop, buyer(2), sale.id, 0), 'quantity');

      const later = await createSale(shop, saleBody(sku, 1, 1, { startsInMs: 60_000 }));
      expect(later.status).toBe('SCHEDULED');
      expectProblem(await purchase(shop, buyer(2), later.id, 1), 409, 'SALE_NOT_ACTIVE');
      const closing = await createSale(shop, saleBody(sku, 1, 1, { startsInMs: -60_000, lastsMs: 60_000 + SHORT_SALE_MS }));
      await new Promise((resolve) => setTimeout(resolve, SHORT_SALE_MS + 100));
      expectProblem(await purchase(shop, buyer(2), closing.id, 1), 409, 'SALE_NOT_ACTIVE');

      // Three units accepted, three orders: the database took each exactly once.
      await eventually('orders of the sale', () => ordersOfSale(shop, sale.id), (o) => o.byStatus.RESERVED === 3);
      expect(await saleRow(shop, sale.id)).toEqual({ quantity: 3, sold: 3 });
      expect(await ticket(shop, buyer(0), sale.id, first.body.ticketId)).toEqual({ ticketId: first.body.ticketId, status: 'ORDERED', orderId: first.body.ticketId });
      // Another buyer's ticket is not found, as another buyer's order is not.
      expectProblem(await shop.api.get(`/api/v1/flash-sales/${sale.id}/tickets/${first.body.ticketId}`, { token: buyer(1).token }), 404, 'NOT_FOUND');
    });

    it('a ticket becomes a RESERVED order at the sale price; paying within the window confirms it once; a checkout order still answers 409', async () => {
      const sale = await createSale(shop, saleBody(sku, 2, 1));
      const accepted = await purchase(shop, buyer(1), sale.id, 1);
      expect(accepted.status).toBe(202);
      const order = await orderOf(shop, buyer(1), sale.id, accepted.body.ticketId);
      expect(order).toMatchObject({ userId: buyer(1).id, status: 'RESERVED', total: { amount: 1_500, currency: 'USD' }, lines: [{ sku, quantity: 1 }] });
      // A sale without a window of its own: due by the shop's default window.
      expect(new Date(order.payBy ?? 0).getTime() - new Date(order.createdAt).getTime()).toBe(PAYMENT_WINDOW_MS);
      const pays = await Promise.all([0, 1, 2].map(() => shop.api.post<Order>(`/api/v1/orders/${order.id}/pay`, { payment: { method: 'card', token: 'tok_visa' } }, { token: buyer(1).token })));
      for (const paid of pays) {
        expect(paid.status, paid.text).toBe(200);
        expect(paid.body.status).toBe('CONFIRMED');
      }
      // Three concurrent pays, one payment intent captured once: never charged twice.
      expect(await charges(shop, order.id)).toEqual({ intents: 1, captured: 1_500 });
      await eventually('sale paid', () => stats(shop, sale.id), (s) => s.paid === 1);
      expectProblem(await shop.api.post(`/api/v1/orders/${order.id}/cancel`, undefined, { token: buyer(1).token }), 409, 'CONFLICT');
      const checkoutOrder = await shop.buy(buyer(3), [[sku, 1]]);
      expectProblem(await shop.api.post(`/api/v1/orders/${checkoutOrder.id}/pay`, { payment: { method: 'card', token: 'tok_visa' } }, { token: buyer(3).token }), 409, 'CONFLICT');
    });

    it('an unpaid order expires after the window, its unit returns to the sale and is sold again; paying late is refused', async () => {
      const sale = await createSale(shop, saleBody(sku, 1, 1));
      const first = await purchase(shop, buyer(2), sale.id, 1);
      expect(first.status).toBe(202);
      const order = await orderOf(shop, buyer(2), sale.id, first.body.ticketId);
      expectProblem(await purchase(shop, buyer(3), sale.id, 1), 409, 'SOLD_OUT');

      const expired = await eventually('order expired', () => shop.order(buyer(2), order.id), (o) => o.status === 'EXPIRED', EXPIRY_TIMEOUT_MS);
      expect(expired.history.map((h) => h.status)).toEqual(['PENDING', 'RESERVED', 'EXPIRED']);
      expectProblem(await shop.api.post(`/api/v1/orders/${order.id}/pay`, { payment: { method: 'card', token: 'tok_visa' } }, { token: buyer(2).token }), 409, 'CONFLICT');
      await eventually('ticket expired', () => ticket(shop, buyer(2), sale.id, first.body.ticketId), (t) => t.status === 'EXPIRED');
      await eventually('unit back in the database', () => saleRow(shop, sale.id), (row) => row.sold === 0);

      const again = await eventually('unit on sale again', () => purchase(shop, buyer(3), sale.id, 1), (res) => res.status === 202, EXPIRY_TIMEOUT_MS);
      await orderOf(shop, buyer(3), sale.id, again.body.ticketId);
      expect(await saleRow(shop, sale.id)).toEqual({ quantity: 1, sold: 1 });
      expect(await stats(shop, sale.id)).toMatchObject({ ordered: 2, expired: 1, remaining: 0 });
    });

    it("a sale's own payment window outlasts or undercuts the shop's default, and an out-of-range one is refused naming the field", async () => {
      for (const paymentWindowSeconds of [0, 7 * 24 * 3_600 + 1]) {
        expectFieldError(await shop.api.post('/api/v1/admin/flash-sales', { ...saleBody(sku, 1, 1), paymentWindowSeconds }, { token: shop.adminToken }), 'paymentWindowSeconds');
      }
      const long = await createSale(shop, { ...saleBody(sku, 1, 1), paymentWindowSeconds: 3_600 });
      const short = await createSale(shop, { ...saleBody(sku, 1, 1), paymentWindowSeconds: 1 });
      expect(long.paymentWindowSeconds).toBe(3_600);
      expect(short.paymentWindowSeconds).toBe(1);
      const kept = await orderOf(shop, buyer(0), long.id, (await purchase(shop, buyer(0), long.id, 1)).body.ticketId);
      const lapsed = await orderOf(shop, buyer(0), short.id, (await purchase(shop, buyer(0), short.id, 1)).body.ticketId);
      // Each order says when its payment is due: its sale's window from its opening.
      const due = (o: Order) => new Date(o.payBy ?? 0).getTime() - new Date(o.createdAt).getTime();
      expect([due(kept), due(lapsed)]).toEqual([3_600_000, 1_000]);

      // One second to pay (and as much grace). The default rule cannot expire an order before its
      // window and grace (2 × 4 s) are over: an earlier expiry is the sale's own window at work.
      const expired = await eventually('the short sale expires its order', () => shop.order(buyer(0), lapsed.id), (o) => o.status === 'EXPIRED', EXPIRY_TIMEOUT_MS);
      expect(new Date(expired.history.at(-1)?.at ?? 0).getTime() - new Date(lapsed.createdAt).getTime()).toBeLessThan(2 * PAYMENT_WINDOW_MS);
      // An hour to pay: past the default window and its grace, the order still waits, and paying it confirms it.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, new Date(kept.createdAt).getTime() + 2 * PAYMENT_WINDOW_MS + 4 * SWEEP_MS - Date.now())));
      expect((await shop.order(buyer(0), kept.id)).status).toBe('RESERVED');
      const paid = await shop.api.post<Order>(`/api/v1/orders/${kept.id}/pay`, { payment: { method: 'card', token: 'tok_visa' } }, { token: buyer(0).token });
      expect(paid.status, paid.text).toBe(200);
      expect(paid.body.status).toBe('CONFIRMED');
    });

    it('a declined card fails the order and gives its unit back', async () => {
      const sale = await createSale(shop, saleBody(sku, 1, 1));
      const accepted = await purchase(shop, buyer(0), sale.id, 1);
      const order = await orderOf(shop, buyer(0), sale.id, accepted.body.ticketId);
      const declined = await shop.api.post(`/api/v1/orders/${order.id}/pay`, { payment: { method: 'card', token: 'tok_declined' } }, { token: buyer(0).token });
      expectProblem(declined, 402, 'PAYMENT_DECLINED');
      expect((await shop.order(buyer(0), order.id)).status).toBe('PAYMENT_FAILED');
      await eventually('unit back', () => saleRow(shop, sale.id), (row) => row.sold === 0);
      // The conservation laws hold across every sale of this file (orders still awaiting payment allowed).
      expect((await shop.invariants({ allowInFlight: true })).violations).toEqual([]);
    });
  });
}
