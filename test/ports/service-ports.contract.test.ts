import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, newId } from '@agora/kernel';
import type { ServicePorts, catalog, inventory, order, payment } from '@agora/contracts';
import { assertingForTests } from '@agora/platform/testing';
import { SCARCE, startPortSystem, type PortSystem } from './port-system.js';

/*
 * The typed ports' contract: the in-process adapters (the callee's application object) and the
 * HTTP adapters (its routes, through Fastify inject) answer the same DTOs and fail with the same
 * AppError codes. Every behaviour runs on both; the last block checks one adapter's answer equals
 * the other's for the same call.
 */

let system: PortSystem;

beforeAll(async () => {
  system = await startPortSystem();
});
afterAll(async () => {
  await system?.stop();
});

/** The error a call fails with; fails the test when the call succeeds. */
async function failure(call: Promise<unknown>): Promise<AppError> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(AppError);
  return outcome.error as AppError;
}

const usd = (amount: number) => ({ amount, currency: 'USD' });

function authorizeBody(token: string, overrides: Partial<payment.AuthorizeBody> = {}): payment.AuthorizeBody {
  return { orderId: newId(), userId: newId(), amount: usd(2_500), token, idempotencyKey: `auth-${newId()}`, ...overrides };
}

/** Puts a line in a user's cart through the cart's public route (what the gateway forwards). */
async function addToCart(userId: string, sku: string, quantity: number): Promise<void> {
  const response = await assertingForTests(system.transport, 'gateway').request('cart', { method: 'POST', path: '/cart/items', body: { sku, quantity }, caller: { userId, role: 'customer' } });
  expect(response.status).toBe(200);
}

/** A flash sale of `quantity` units of `sku`, open now, made through inventory's admin route; its id. */
async function createFlashSale(sku: string, quantity: number, perUserLimit: number): Promise<string> {
  const startsAt = new Date(Date.now() - 60_000).toISOString();
  const endsAt = new Date(Date.now() + 3_600_000).toISOString();
  const body = { sku, quantity, price: { amount: 500, currency: 'USD' }, startsAt, endsAt, perUserLimit };
  const response = await assertingForTests(system.transport, 'gateway').request('inventory', { method: 'POST', path: '/admin/flash-sales', body, caller: { userId: newId(), role: 'admin' } });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return (response.body as { id: string }).id;
}

function checkoutBody(token: string): order.CheckoutBody {
  return { payment: { method: 'card', token }, shippingAddress: { name: 'Port Buyer', line1: '1 Port Road', city: 'Porto', postalCode: '4000', country: 'PT' } };
}

const adapters: { name: string; ports: () => ServicePorts }[] = [
  { name: 'in-process', ports: () => system.inProcess },
  { name: 'http', ports: () => system.http },
];

for (const adapter of adapters) {
  describe(`service ports contract on ${adapter.name}`, () => {
    const ports = (): ServicePorts => adapter.ports();

    describe('inventory', () => {
      const reserveBody = (quantity: number, sku = system.skus.plenty): inventory.ReserveBody => ({ reservationId: newId(), lines: [{ sku, quantity }], ttlSeconds: 600 });

      it('buys in a flash sale: a ticket, the same one again for the same key; over the limit, sold out and an unknown sale refused with their codes', async () => {
        const sale = await createFlashSale(system.skus.plenty, 2, 1);
        const [ann, bob, cy] = [newId(), newId(), newId()].map((userId) => ({ userId, role: 'customer' as const }));
        if (!ann || !bob || !cy) throw new Error('three buyers');
        const key = `buy-${newId()}`;
        const ticket = await ports().inventory.purchase(ann, sale, key, 1);
        expect(ticket).toEqual({ ticketId: expect.any(String), status: 'ACCEPTED' });
        await expect(ports().inventory.purchase(ann, sale, key, 1)).resolves.toEqual(ticket);
        expect((await failure(ports().inventory.purchase(ann, sale, `buy-${newId()}`, 1))).code).toBe('LIMIT_EXCEEDED');
        await ports().inventory.purchase(bob, sale, `buy-${newId()}`, 1);
        expect((await failure(ports().inventory.purchase(cy, sale, `buy-${newId()}`, 1))).code).toBe('SOLD_OUT');
        expect((await failure(ports().inventory.purchase(cy, newId(), `buy-${newId()}`, 1))).code).toBe('NOT_FOUND');
      });

      it('answers the units available of each SKU asked, once each; a SKU without stock recorded has 0', async () => {
        const { scarce } = system.skus;
        const levels = await ports().inventory.availability([scarce, 'NO-STOCK-SKU', scarce]);
        expect(levels).toHaveLength(2);
        expect(new Map(levels.map((l) => [l.sku, l.available]))).toEqual(new Map([[scarce, SCARCE], ['NO-STOCK-SKU', 0]]));
      });

      it('holds stock and answers the same reservation on a replay', async () => {
        const body = reserveBody(2);
        const held = await ports().inventory.reserve(body);
        expect(held).toEqual({ reservationId: body.reservationId, status: 'HELD', expiresAt: expect.any(String), lines: [{ sku: system.skus.plenty, quantity: 2 }] });
        await expect(ports().inventory.reserve(body)).resolves.toEqual(held);
      });

      it('refuses more than is on hand as OUT_OF_STOCK naming the SKU', async () => {
        const error = await failure(ports().inventory.reserve(reserveBody(SCARCE + 1, system.skus.scarce)));
        expect(error.code).toBe('OUT_OF_STOCK');
        expect(error.extras).toEqual({ skus: [system.skus.scarce] });
        expect(error.errors).toEqual([{ path: 'lines[0].sku', message: expect.stringContaining(system.skus.scarce) }]);
      });

      it('refuses a replay with other lines as IDEMPOTENCY_MISMATCH', async () => {
        const body = reserveBody(1);
        await ports().inventory.reserve(body);
        expect((await failure(ports().inventory.reserve({ ...body, lines: [{ sku: system.skus.plenty, quantity: 3 }] }))).code).toBe('IDEMPOTENCY_MISMATCH');
      });

      it('commits, replays the commit, and restocks a committed reservation', async () => {
        const body = reserveBody(1);
        await ports().inventory.reserve(body);
        const committed = await ports().inventory.commit(body.reservationId);
        expect(committed.status).toBe('COMMITTED');
        await expect(ports().inventory.commit(body.reservationId)).resolves.toEqual(committed);
        await expect(ports().inventory.restock(body.reservationId)).resolves.toMatchObject({ status: 'RESTOCKED' });
      });

      it('answers NOT_FOUND for committing or restocking an unknown reservation', async () => {
        expect((await failure(ports().inventory.commit(newId()))).code).toBe('NOT_FOUND');
        expect((await failure(ports().inventory.restock(newId()))).code).toBe('NOT_FOUND');
      });

      it('answers CONFLICT for a transition the status does not allow', async () => {
        const body = reserveBody(1);
        await ports().inventory.reserve(body);
        expect((await failure(ports().inventory.restock(body.reservationId))).code).toBe('CONFLICT');
        await expect(ports().inventory.release(body.reservationId)).resolves.toMatchObject({ status: 'RELEASED' });
        expect((await failure(ports().inventory.commit(body.reservationId))).code).toBe('CONFLICT');
        expect((await failure(ports().inventory.reserve(body))).code).toBe('CONFLICT');
      });
    });

    describe('payment', () => {
      it('authorizes, captures once per key and refunds part', async () => {
        const body = authorizeBody('tok_visa');
        const authorized = await ports().payment.authorize(body);
        expect(authorized).toMatchObject({ orderId: body.orderId, userId: body.userId, amount: body.amount, status: 'AUTHORIZED' });
        const captured = await ports().payment.capture(authorized.id, `cap-${body.orderId}`);
        expect(captured).toMatchObject({ id: authorized.id, status: 'CAPTURED', capturedAmount: body.amount });
        const replay = await ports().payment.capture(authorized.id, `cap-${body.orderId}`);
        expect(replay).toMatchObject({ id: authorized.id, status: 'CAPTURED', capturedAmount: body.amount });
        const refunded = await ports().payment.refund(authorized.id, usd(1_000), `ref-${body.orderId}`);
        expect(refunded.refundedAmount).toEqual(usd(1_000));
        await expect(ports().payment.paymentsOf(body.orderId)).resolves.toEqual([refunded]);
      });

      it('answers a declined card as a DECLINED intent, not an error', async () => {
        await expect(ports().payment.authorize(authorizeBody('tok_declined'))).resolves.toMatchObject({ status: 'DECLINED', declineCode: 'card_declined' });
      });

      it('voids an authorized intent', async () => {
        const authorized = await ports().payment.authorize(authorizeBody('tok_visa'));
        await expect(ports().payment.void(authorized.id, `void-${authorized.id}`)).resolves.toMatchObject({ id: authorized.id, status: 'VOIDED' });
      });

      it('answers NOT_FOUND for capturing, voiding or refunding an unknown intent', async () => {
        expect((await failure(ports().payment.capture(newId(), 'k-1'))).code).toBe('NOT_FOUND');
        expect((await failure(ports().payment.void(newId(), 'k-2'))).code).toBe('NOT_FOUND');
        expect((await failure(ports().payment.refund(newId(), usd(1), 'k-3'))).code).toBe('NOT_FOUND');
      });

      it('lists no intents for an order without any', async () => {
        await expect(ports().payment.paymentsOf(newId())).resolves.toEqual([]);
      });
    });

    describe('cart', () => {
      it('reads the lines of a user and applies a checkout once per order', async () => {
        const userId = newId();
        await expect(ports().cart.lines(userId)).resolves.toEqual({ lines: [] });
        await addToCart(userId, system.skus.plenty, 3);
        await expect(ports().cart.lines(userId, { requestId: 'req-cart-1' })).resolves.toEqual({ lines: [{ sku: system.skus.plenty, quantity: 3 }] });
        const body = { orderId: newId(), lines: [{ sku: system.skus.plenty, quantity: 2 }] };
        await expect(ports().cart.checkedOut(userId, body)).resolves.toMatchObject({ orderId: body.orderId, applied: true });
        await expect(ports().cart.checkedOut(userId, body)).resolves.toMatchObject({ orderId: body.orderId, applied: false });
        await expect(ports().cart.lines(userId)).resolves.toEqual({ lines: [{ sku: system.skus.plenty, quantity: 1 }] });
      });

      it('adds a SKU, merged with its line, and answers the priced cart', async () => {
        const userId = newId();
        const first = await ports().cart.add(userId, { sku: system.skus.plenty, quantity: 2 }, { requestId: 'req-cart-add-1' });
        expect(first).toMatchObject({ itemCount: 2, items: [{ sku: system.skus.plenty, quantity: 2 }], unavailable: [] });
        const second = await ports().cart.add(userId, { sku: system.skus.plenty, quantity: 3 });
        expect(second.items).toEqual([expect.objectContaining({ sku: system.skus.plenty, quantity: 5 })]);
        expect(second.subtotal.amount).toBe(5 * (second.items[0]?.unitPrice.amount ?? Number.NaN));
        await expect(ports().cart.lines(userId)).resolves.toEqual({ lines: [{ sku: system.skus.plenty, quantity: 5 }] });
      });

      it('refuses to add a SKU the catalog does not sell as NOT_FOUND, and adds nothing', async () => {
        const userId = newId();
        expect((await failure(ports().cart.add(userId, { sku: 'NO-SUCH-SKU-1', quantity: 1 }))).code).toBe('NOT_FOUND');
        await expect(ports().cart.lines(userId)).resolves.toEqual({ lines: [] });
      });

      it('refuses a caller that is not a user as UNAUTHENTICATED', async () => {
        expect((await failure(ports().cart.add('not-a-user', { sku: system.skus.plenty, quantity: 1 }))).code).toBe('UNAUTHENTICATED');
        expect((await failure(ports().cart.lines('not-a-user'))).code).toBe('UNAUTHENTICATED');
        expect((await failure(ports().cart.lines(''))).code).toBe('UNAUTHENTICATED');
        expect((await failure(ports().cart.checkedOut('admin', { orderId: newId(), lines: [] }))).code).toBe('UNAUTHENTICATED');
      });
    });

    describe('order', () => {
      const shopper = () => ({ userId: newId(), role: 'customer' as const });

      it('checks out a cart: 201 with the confirmed order; the same key answers the same order again, replayed', async () => {
        const caller = shopper();
        await addToCart(caller.userId, system.skus.plenty, 2);
        const key = `checkout-${newId()}`;
        const first = await ports().order.checkout(caller, key, checkoutBody('tok_visa'), { requestId: 'req-checkout-1' });
        expect(first).toMatchObject({ status: 201, replayed: false, order: { userId: caller.userId, status: 'CONFIRMED', lines: [expect.objectContaining({ sku: system.skus.plenty, quantity: 2 })] } });
        const again = await ports().order.checkout(caller, key, checkoutBody('tok_visa'));
        expect(again).toMatchObject({ status: 201, replayed: true, order: { id: first.order.id, status: 'CONFIRMED' } });
        await expect(ports().cart.lines(caller.userId)).resolves.toEqual({ lines: [] });
      });

      it('answers 202 while an asynchronous payment is pending', async () => {
        const caller = shopper();
        await addToCart(caller.userId, system.skus.plenty, 1);
        const answer = await ports().order.checkout(caller, `checkout-${newId()}`, checkoutBody('tok_async'));
        expect(answer).toMatchObject({ status: 202, replayed: false, order: { userId: caller.userId } });
      });

      it('fails a business outcome with its code: an empty cart, a declined card (kept for its key), more than is in stock', async () => {
        expect((await failure(ports().order.checkout(shopper(), `checkout-${newId()}`, checkoutBody('tok_visa')))).code).toBe('CART_EMPTY');
        const declined = shopper();
        await addToCart(declined.userId, system.skus.plenty, 1);
        const key = `checkout-${newId()}`;
        const refusal = await failure(ports().order.checkout(declined, key, checkoutBody('tok_declined')));
        expect(refusal.code).toBe('PAYMENT_DECLINED');
        expect(refusal.extras).toMatchObject({ order: { status: 'PAYMENT_FAILED' } });
        expect((await failure(ports().order.checkout(declined, key, checkoutBody('tok_declined')))).code).toBe('PAYMENT_DECLINED');
        const short = shopper();
        await addToCart(short.userId, system.skus.scarce, SCARCE + 1);
        const outOfStock = await failure(ports().order.checkout(short, `checkout-${newId()}`, checkoutBody('tok_visa')));
        expect(outOfStock.code).toBe('OUT_OF_STOCK');
        expect(outOfStock.extras).toMatchObject({ order: { status: 'REJECTED' } });
      });

      it('refuses the same key with another body as IDEMPOTENCY_MISMATCH', async () => {
        const caller = shopper();
        await addToCart(caller.userId, system.skus.plenty, 1);
        const key = `checkout-${newId()}`;
        await ports().order.checkout(caller, key, checkoutBody('tok_visa'));
        expect((await failure(ports().order.checkout(caller, key, checkoutBody('tok_insufficient_funds')))).code).toBe('IDEMPOTENCY_MISMATCH');
      });
    });

    describe('catalog', () => {
      it('answers the variants asked for, in order, each once, unknown SKUs left out', async () => {
        const { plenty, scarce } = system.skus;
        const variants = await ports().catalog.variants([scarce, 'NO-SUCH-SKU', plenty, scarce]);
        expect(variants.map((v) => v.sku)).toEqual([scarce, plenty]);
        expect(variants[0]).toEqual({ sku: scarce, productId: expect.any(String), productName: expect.any(String), title: expect.any(String), price: { amount: expect.any(Number), currency: expect.any(String) } });
      });

      it('refuses no SKU or a malformed one as VALIDATION_FAILED', async () => {
        expect((await failure(ports().catalog.variants([]))).code).toBe('VALIDATION_FAILED');
        expect((await failure(ports().catalog.variants(['bad sku!']))).code).toBe('VALIDATION_FAILED');
      });

      it('reads a product and a page as shoppers see them: JSON text, every variant with its available units', async () => {
        const [variant] = await ports().catalog.variants([system.skus.scarce]);
        if (!variant) throw new Error('the scarce SKU has no variant');
        const read = await ports().catalog.storefrontProduct(variant.productId);
        expect(read.withAvailability).toBe(true);
        const product = JSON.parse(read.json) as catalog.Product;
        expect(product.id).toBe(variant.productId);
        expect(product.variants.find((v) => v.sku === system.skus.scarce)?.available).toBe(SCARCE);
        const pageRead = await ports().catalog.storefrontPage({ limit: 1 });
        const page = JSON.parse(pageRead.json) as { items: catalog.Product[]; nextCursor: string | null };
        expect(pageRead.withAvailability).toBe(true);
        expect(page.items).toHaveLength(1);
        expect(page.items.every((p) => p.variants.every((v) => typeof v.available === 'number'))).toBe(true);
        expect(typeof page.nextCursor).toBe('string');
      });

      it('answers NOT_FOUND for a product that does not exist', async () => {
        expect((await failure(ports().catalog.storefrontProduct(newId()))).code).toBe('NOT_FOUND');
      });
    });
  });
}

describe('service ports: both adapters answer the same DTO', () => {
  it('for a reservation made by one and replayed or committed by the other', async () => {
    const body: inventory.ReserveBody = { reservationId: newId(), lines: [{ sku: system.skus.plenty, quantity: 1 }], ttlSeconds: 600 };
    const held = await system.inProcess.inventory.reserve(body);
    await expect(system.http.inventory.reserve(body)).resolves.toEqual(held);
    const committed = await system.http.inventory.commit(body.reservationId);
    await expect(system.inProcess.inventory.commit(body.reservationId)).resolves.toEqual(committed);
  });

  it('for an intent authorized and captured by one and replayed by the other', async () => {
    const body = authorizeBody('tok_visa');
    const authorized = await system.http.payment.authorize(body);
    await expect(system.inProcess.payment.authorize(body)).resolves.toEqual(authorized);
    const captured = await system.inProcess.payment.capture(authorized.id, `cap-${body.orderId}`);
    await expect(system.http.payment.capture(authorized.id, `cap-${body.orderId}`)).resolves.toEqual(captured);
    await expect(system.http.payment.paymentsOf(body.orderId)).resolves.toEqual(await system.inProcess.payment.paymentsOf(body.orderId));
  });

  it('for cart lines, a checked-out replay and catalog variants', async () => {
    const userId = newId();
    await addToCart(userId, system.skus.plenty, 2);
    await expect(system.http.cart.lines(userId)).resolves.toEqual(await system.inProcess.cart.lines(userId));
    const body = { orderId: newId(), lines: [{ sku: system.skus.plenty, quantity: 1 }] };
    await system.inProcess.cart.checkedOut(userId, body);
    await expect(system.http.cart.checkedOut(userId, body)).resolves.toEqual(await system.inProcess.cart.checkedOut(userId, body));
    const skus = [system.skus.plenty, system.skus.scarce];
    await expect(system.http.catalog.variants(skus)).resolves.toEqual(await system.inProcess.catalog.variants(skus));
  });

  it('for a checkout made by one and replayed by the other, and a cart add', async () => {
    const caller = { userId: newId(), role: 'customer' as const };
    const added = await system.inProcess.cart.add(caller.userId, { sku: system.skus.plenty, quantity: 1 });
    await expect(system.http.cart.add(caller.userId, { sku: system.skus.plenty, quantity: 1 })).resolves.toEqual({ ...added, items: [{ ...added.items[0], quantity: 2, lineTotal: { ...added.subtotal, amount: 2 * added.subtotal.amount } }], subtotal: { ...added.subtotal, amount: 2 * added.subtotal.amount }, itemCount: 2 });
    const key = `checkout-${newId()}`;
    const made = await system.http.order.checkout(caller, key, checkoutBody('tok_visa'));
    const replayed = await system.inProcess.order.checkout(caller, key, checkoutBody('tok_visa'));
    expect(replayed).toEqual({ ...made, replayed: true });
  });

  it('for a storefront product and page: the same document, the same availability', async () => {
    const [variant] = await system.inProcess.catalog.variants([system.skus.plenty]);
    if (!variant) throw new Error('the plenty SKU has no variant');
    const inProcess = await system.inProcess.catalog.storefrontProduct(variant.productId);
    const http = await system.http.catalog.storefrontProduct(variant.productId);
    expect(JSON.parse(http.json)).toEqual(JSON.parse(inProcess.json));
    expect(http.withAvailability).toBe(inProcess.withAvailability);
    const query = { limit: 5 };
    expect(JSON.parse((await system.http.catalog.storefrontPage(query)).json)).toEqual(JSON.parse((await system.inProcess.catalog.storefrontPage(query)).json));
  });

  it('for the error of the same refusal: code, field errors and extras', async () => {
    const body: inventory.ReserveBody = { reservationId: newId(), lines: [{ sku: system.skus.scarce, quantity: SCARCE + 1 }], ttlSeconds: 600 };
    const viaHttp = await failure(system.http.inventory.reserve(body));
    const inProcess = await failure(system.inProcess.inventory.reserve(body));
    expect({ code: inProcess.code, status: inProcess.status, errors: inProcess.errors, extras: inProcess.extras, message: inProcess.message }).toEqual({
      code: viaHttp.code,
      status: viaHttp.status,
      errors: viaHttp.errors,
      extras: viaHttp.extras,
      message: viaHttp.message,
    });
  });
});
