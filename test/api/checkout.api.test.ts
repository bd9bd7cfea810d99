import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Shop, checkoutBody, eventually, expectFieldError, expectProblem, type Order, type OrderStatus, type Page, type Product } from '../support/shop.js';
import { systemVariants } from '../support/system.js';

const statuses = (order: Order): OrderStatus[] => order.history.map((h) => h.status);

/**
 * Checkout as docs/api.md and docs/checkout.md promise it, through the gateway: every sandbox card
 * token, the stock and the cart around it, and the Idempotency-Key contract, on every backend.
 */
for (const variant of systemVariants) {
  describe.runIf(await variant.available())(`checkout API on ${variant.name}`, () => {
    let shop: Shop;

    beforeAll(async () => {
      shop = await Shop.open(variant);
    });
    afterAll(async () => shop?.stop());

    it('tok_visa: 201 CONFIRMED, stock taken, cart emptied, the order listed with its history', async () => {
      const shopper = await shop.register();
      const { skus } = await shop.product([1_000, 2_500], 'VISA');
      const [a = '', b = ''] = skus;
      await shop.stock(a, 10);
      await shop.stock(b, 5);
      await shop.add(shopper, a, 2);
      const cart = await shop.add(shopper, b, 1);

      const res = await shop.checkout(shopper, 'tok_visa');
      expect(res.status, res.text).toBe(201);
      const order = res.body;
      expect(order).toMatchObject({ userId: shopper.id, status: 'CONFIRMED', total: { amount: 4_500, currency: 'USD' } });
      expect(order.total).toEqual(cart.subtotal);
      expect(order.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Date(order.createdAt).toISOString()).toBe(order.createdAt);
      expect(order.lines).toEqual([
        { sku: a, title: expect.stringContaining('Variant 0'), quantity: 2, unitPrice: { amount: 1_000, currency: 'USD' }, lineTotal: { amount: 2_000, currency: 'USD' } },
        { sku: b, title: expect.stringContaining('Variant 1'), quantity: 1, unitPrice: { amount: 2_500, currency: 'USD' }, lineTotal: { amount: 2_500, currency: 'USD' } },
      ]);
      expect(statuses(order)).toEqual(['PENDING', 'RESERVED', 'CONFIRMED']);

      expect(await shop.available(a)).toBe(8);
      expect(await shop.available(b)).toBe(4);
      expect(await shop.stockRow(a)).toEqual({ onHand: 8, reserved: 0 });
      expect((await shop.cart(shopper)).items).toEqual([]);

      expect(await shop.order(shopper, order.id)).toEqual(order);
      const list = await shop.api.get<Page<Order>>('/api/v1/orders', { token: shopper.token });
      expect(list.status).toBe(200);
      expect(list.body.items.map((o) => o.id)).toEqual([order.id]);
      expect(list.body.items[0]).toEqual(order);
      expect(list.body.nextCursor).toBeNull();
    });

    it('snapshots the catalog price at checkout: a later price change does not touch the order', async () => {
      const shopper = await shop.register();
      const { product, skus } = await shop.product([700], 'SNAP');
      const sku = skus[0] as string;
      await shop.stock(sku, 5);
      await shop.add(shopper, sku, 2);
      const reprice = (amount: number) =>
        shop.api.patch<Product>(`/api/v1/admin/products/${product.id}`, { variants: [{ sku, title: 'Variant 0', price: { amount, currency: 'USD' } }] }, { token: shop.adminToken });
      expect((await reprice(900)).status).toBe(200);

      const res = await shop.checkout(shopper, 'tok_visa');
      expect(res.status, res.text).toBe(201);
      expect(res.body.lines[0]?.unitPrice).toEqual({ amount: 900, currency: 'USD' });
      expect(res.body.total).toEqual({ amount: 1_800, currency: 'USD' });

      expect((await reprice(100)).status).toBe(200);
      expect((await shop.order(shopper, res.body.id)).total).toEqual({ amount: 1_800, currency: 'USD' });
    });

    for (const [card, declineCode] of [
      ['tok_declined', 'card_declined'],
      ['tok_insufficient_funds', 'insufficient_funds'],
    ] as const) {
      it(`${card}: 402 PAYMENT_DECLINED with the order PAYMENT_FAILED, stock back, cart kept`, async () => {
        const shopper = await shop.register();
        const sku = await shop.sku(1_999, 3, 'DECL');
        const cart = await shop.add(shopper, sku, 2);

        const res = await shop.checkout(shopper, card);
        const problem = expectProblem(res, 402, 'PAYMENT_DECLINED');
        expect(problem.order).toMatchObject({ userId: shopper.id, status: 'PAYMENT_FAILED', total: { amount: 3_998, currency: 'USD' } });
        const order = problem.order as Order;
        expect(statuses(order)).toEqual(['PENDING', 'RESERVED', 'PAYMENT_FAILED']);
        expect(order.history.at(-1)?.reason).toContain(declineCode);
        expect(problem.detail).toContain(declineCode);

        expect(await shop.available(sku)).toBe(3);
        expect(await shop.stockRow(sku)).toEqual({ onHand: 3, reserved: 0 });
        expect(await shop.cart(shopper)).toEqual(cart);
        expect(await shop.order(shopper, order.id)).toEqual(order);

        // The shopper tries another card (a new attempt, so a new key) and gets the goods.
        const retry = await shop.checkout(shopper, 'tok_visa');
        expect(retry.status, retry.text).toBe(201);
        expect(retry.body.id).not.toBe(order.id);
        expect(await shop.available(sku)).toBe(1);
        expect((await shop.cart(shopper)).items).toEqual([]);
      });
    }

    it('tok_error: the provider call is retried, then 402 with the order PAYMENT_FAILED and nothing held', async () => {
      const shopper = await shop.register();
      const sku = await shop.sku(500, 4, 'ERR');
      const cart = await shop.add(shopper, sku, 1);

      const res = await shop.checkout(shopper, 'tok_error');
      const problem = expectProblem(res, 402, 'PAYMENT_DECLINED');
      const order = problem.order as Order;
      expect(order.status).toBe('PAYMENT_FAILED');
      expect(statuses(order)).toEqual(['PENDING', 'RESERVED', 'PAYMENT_FAILED']);
      // PAYMENT_DEFAULTS.providerAttempts: the first call and two retries, all with the same provider key.
      expect(await shop.authorizeAttempts(order.id)).toBe(3);
      expect(await shop.stockRow(sku)).toEqual({ onHand: 4, reserved: 0 });
      expect(await shop.cart(shopper)).toEqual(cart);
    });

    it('tok_async: 202 RESERVED, then CONFIRMED once the sandbox’s signed webhook arrives', async () => {
      const shopper = await shop.register();
      const sku = await shop.sku(1_200, 6, 'ASYNC');
      await shop.add(shopper, sku, 2);
      const key = randomUUID();

      const res = await shop.checkout(shopper, 'tok_async', key);
      expect(res.status, res.text).toBe(202);
      expect(res.body).toMatchObject({ status: 'RESERVED', total: { amount: 2_400, currency: 'USD' } });
      expect(statuses(res.body)).toEqual(['PENDING', 'RESERVED']);

      const confirmed = await shop.waitForOrder(shopper, res.body.id, ['CONFIRMED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED']);
      expect(confirmed.status).toBe('CONFIRMED');
      expect(statuses(confirmed)).toEqual(['PENDING', 'RESERVED', 'CONFIRMED']);
      expect(await shop.stockRow(sku)).toEqual({ onHand: 4, reserved: 0 });
      // The checkout empties the cart once it has confirmed (its last act), so a moment after.
      await eventually('cart emptied after the asynchronous confirmation', () => shop.cart(shopper), (cart) => cart.items.length === 0);

      // A replay of that checkout answers what it answered first (docs/api.md#idempotency-key), not a second order.
      const replay = await shop.checkout(shopper, 'tok_async', key);
      expect(replay.status).toBe(202);
      expect(replay.body).toEqual(res.body);
      expect((await shop.allOrders(shopper)).map((o) => o.id)).toEqual([res.body.id]);
    });

    it('empty cart: 409 CART_EMPTY and no order', async () => {
      const shopper = await shop.register();
      expectProblem(await shop.checkout(shopper, 'tok_visa'), 409, 'CART_EMPTY');
      expect(await shop.allOrders(shopper)).toEqual([]);
    });

    it('out of stock: 409 OUT_OF_STOCK with the order REJECTED in the body, nothing held, nothing charged', async () => {
      const shopper = await shop.register();
      const { skus } = await shop.product([300, 400], 'OOS');
      const [plenty = '', scarce = ''] = skus;
      await shop.stock(plenty, 10);
      await shop.stock(scarce, 2);
      await shop.add(shopper, plenty, 4);
      const cart = await shop.add(shopper, scarce, 3);

      const res = await shop.checkout(shopper, 'tok_visa');
      const problem = expectProblem(res, 409, 'OUT_OF_STOCK');
      expect(problem.order).toMatchObject({ userId: shopper.id, status: 'REJECTED' });
      expect(statuses(problem.order as Order)).toEqual(['PENDING', 'REJECTED']);
      // Neither line is held: all or nothing.
      expect(await shop.stockRow(plenty)).toEqual({ onHand: 10, reserved: 0 });
      expect(await shop.stockRow(scarce)).toEqual({ onHand: 2, reserved: 0 });
      expect(await shop.available(scarce)).toBe(2);
      expect(await shop.authorizeAttempts((problem.order as Order).id)).toBe(0);
      expect(await shop.cart(shopper)).toEqual(cart);

      // Take what there is, and it goes through.
      await shop.api.patch(`/api/v1/cart/items/${scarce}`, { quantity: 2 }, { token: shopper.token });
      const ok = await shop.checkout(shopper, 'tok_visa');
      expect(ok.status, ok.text).toBe(201);
      expect(await shop.available(scarce)).toBe(0);
      expect(await shop.available(plenty)).toBe(6);
    });

    it('requires an Idempotency-Key of 1..255 characters, naming `idempotency-key`', async () => {
      const shopper = await shop.register();
      const sku = await shop.sku(100, 5, 'KEY');
      await shop.add(shopper, sku, 1);
      const body = checkoutBody('tok_visa');
      expectFieldError(await shop.api.post('/api/v1/checkout', body, { token: shopper.token }), 'idempotency-key');
      expectFieldError(await shop.api.post('/api/v1/checkout', body, { token: shopper.token, headers: { 'idempotency-key': 'k'.repeat(256) } }), 'idempotency-key');
      // Without a token it is 401 first, whatever else is wrong.
      expectProblem(await shop.api.post('/api/v1/checkout', body), 401, 'UNAUTHENTICATED');
      expect(await shop.allOrders(shopper)).toEqual([]);
      expect(await shop.available(sku)).toBe(5);
    });

    it('validates the checkout body, naming the field', async () => {
      const shopper = await shop.register();
      const sku = await shop.sku(100, 5, 'BODY');
      await shop.add(shopper, sku, 1);
      const send = (body: unknown) => shop.api.post('/api/v1/checkout', body, { token: shopper.token, headers: { 'idempotency-key': randomUUID() } });
      const good = checkoutBody('tok_visa');
      expectFieldError(await send({ shippingAddress: good.shippingAddress }), 'payment');
      expectFieldError(await send({ ...good, payment: { method: 'cash', token: 'tok_visa' } }), 'payment.method');
      expectFieldError(await send({ ...good, payment: { method: 'card', token: '' } }), 'payment.token');
      expectFieldError(await send({ ...good, shippingAddress: { ...good.shippingAddress, country: 'usa' } }), 'shippingAddress.country');
      expectFieldError(await send({ payment: good.payment }), 'shippingAddress');
      expect(await shop.allOrders(shopper)).toEqual([]);
    });

    it('replays: the same key and body answer the first status and body, without a second order', async () => {
      const shopper = await shop.register();
      const sku = await shop.sku(2_000, 10, 'REPLAY');
      await shop.add(shopper, sku, 1);
      const key = randomUUID();
      const first = await shop.checkout(shopper, 'tok_visa', key);
      expect(first.status, first.text).toBe(201);

      // The cart is empty now; the replay still answers the order, not CART_EMPTY.
      const again = await shop.checkout(shopper, 'tok_visa', key);
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(await shop.allOrders(shopper)).toHaveLength(1);
      expect(await shop.available(sku)).toBe(9);

      // A problem answer is replayed too, with the same order in it.
      await shop.add(shopper, sku, 1);
      const declinedKey = randomUUID();
      const declined = await shop.checkout(shopper, 'tok_declined', declinedKey);
      expectProblem(declined, 402, 'PAYMENT_DECLINED');
      const declinedAgain = await shop.checkout(shopper, 'tok_declined', declinedKey);
      expectProblem(declinedAgain, 402, 'PAYMENT_DECLINED');
      expect(declinedAgain.body).toEqual(declined.body);
      expect(await shop.allOrders(shopper)).toHaveLength(2);

      // The key is the shopper's own: another shopper's identical key is another checkout.
      const other = await shop.register();
      await shop.add(other, sku, 1);
      const theirs = await shop.checkout(other, 'tok_visa', key);
      expect(theirs.status, theirs.text).toBe(201);
      expect(theirs.body.id).not.toBe(first.body.id);
      expect(theirs.body.userId).toBe(other.id);
    });

    it('refuses the same key with another body: 422 IDEMPOTENCY_MISMATCH, nothing done', async () => {
      const shopper = await shop.register();
      const sku = await shop.sku(800, 10, 'MISMATCH');
      await shop.add(shopper, sku, 1);
      const key = randomUUID();
      const first = await shop.checkout(shopper, 'tok_declined', key);
      expectProblem(first, 402, 'PAYMENT_DECLINED');

      expectProblem(await shop.checkout(shopper, 'tok_visa', key), 422, 'IDEMPOTENCY_MISMATCH');
      const otherAddress = { ...checkoutBody('tok_declined'), shippingAddress: { ...checkoutBody('tok_declined').shippingAddress, city: 'Shelbyville' } };
      const moved = await shop.api.post('/api/v1/checkout', otherAddress, { token: shopper.token, headers: { 'idempotency-key': key } });
      expectProblem(moved, 422, 'IDEMPOTENCY_MISMATCH');
      expect(await shop.allOrders(shopper)).toHaveLength(1);
      expect(await shop.stockRow(sku)).toEqual({ onHand: 10, reserved: 0 });
      expect((await shop.cart(shopper)).itemCount).toBe(1);
    });

    it('10 concurrent checkouts with one key make one order, charged and stocked once', async () => {
      const shopper = await shop.register();
      const sku = await shop.sku(1_500, 20, 'DUP');
      await shop.add(shopper, sku, 3);
      const key = randomUUID();

      const answers = await Promise.all(Array.from({ length: 10 }, () => shop.checkout(shopper, 'tok_visa', key)));
      for (const answer of answers) {
        expect(answer.status, answer.text).toBe(201);
        expect(answer.body).toEqual(answers[0]?.body);
      }
      const orders = await shop.allOrders(shopper);
      expect(orders.map((o) => o.id)).toEqual([answers[0]?.body.id]);
      expect(orders[0]?.status).toBe('CONFIRMED');
      expect(await shop.stockRow(sku)).toEqual({ onHand: 17, reserved: 0 });
      expect((await shop.cart(shopper)).items).toEqual([]);
    });

    it('leaves the conservation laws intact', async () => {
      const report = await shop.expectInvariants();
      expect(report.confirmedTotal).toBeGreaterThan(0);
      expect(report.ordersByStatus.PAYMENT_FAILED).toBeGreaterThan(0);
      expect(report.ordersByStatus.REJECTED).toBeGreaterThan(0);
    });
  });
}
