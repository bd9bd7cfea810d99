import { describe, expect, it } from 'vitest';
import { problemOf } from '@agora/kernel';
import type { order } from '@agora/contracts';
import { createHttpApp, createLogger, type Caller, type HttpApp } from '@agora/platform';
import { guardForTests, injectAs } from '@agora/platform/testing';
import type { CheckoutResponse, Orders } from '../src/app/orders.js';
import { AdmissionGate, CHECKOUT_ADMISSION_DEFAULTS } from '../src/app/admission.js';
import { registerOrderRoutes } from '../src/http/routes.js';
import { InProcessOrderPort } from '../src/port.js';

// The order routes answer through the contract's response schemas: what the use cases hand them is
// checked on the way out. The use cases are stood in for: only the HTTP face is under test.

const SHOPPER: Caller = { userId: '01890000-0000-7000-8000-000000000001', role: 'customer' };
const ORDER_ID = '01890000-0000-7000-8000-0000000000aa';
const usd = (amount: number) => ({ amount, currency: 'USD' });

const anOrder = (): order.Order => ({
  id: ORDER_ID,
  userId: SHOPPER.userId,
  status: 'CONFIRMED',
  lines: [{ sku: 'SKU-1', title: 'A thing', quantity: 1, unitPrice: usd(500), lineTotal: usd(500) }],
  total: usd(500),
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  history: [{ status: 'CONFIRMED', at: '2026-01-01T00:00:00.000Z' }],
});

const CHECKOUT_BODY = {
  payment: { method: 'card', token: 'tok_visa' },
  shippingAddress: { name: 'A Shopper', line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
};

/** The order app with `orders` standing in for the use cases (only the methods a test calls). */
function appWith(orders: Partial<Record<keyof Orders, unknown>>): HttpApp {
  const app = createHttpApp({ name: 'order', logger: createLogger('order', 'silent') });
  guardForTests(app, 'order');
  const logger = createLogger('order', 'silent');
  registerOrderRoutes(app, orders as Orders, new InProcessOrderPort(orders as Orders, new AdmissionGate(CHECKOUT_ADMISSION_DEFAULTS), logger));
  return app;
}

const checkout = (app: HttpApp) =>
  injectAs(app, 'order', { method: 'POST', url: '/checkout', caller: SHOPPER, headers: { 'idempotency-key': 'k-1' }, payload: CHECKOUT_BODY });

describe('order routes answer through the contract', () => {
  it('leaves out of an order what the contract does not name', async () => {
    const app = appWith({ get: async () => ({ ...anOrder(), paymentSecret: 'never on the wire' }) });
    const res = await injectAs(app, 'order', { method: 'GET', url: `/orders/${ORDER_ID}`, caller: SHOPPER });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual(anOrder());
  });

  it('refuses an order missing a field the contract requires: a 500, not a short answer', async () => {
    const { total: _total, ...short } = anOrder();
    const app = appWith({ get: async () => short });
    const res = await injectAs(app, 'order', { method: 'GET', url: `/orders/${ORDER_ID}`, caller: SHOPPER });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: 'INTERNAL' });
  });

  it('answers a checkout in progress with 202 and the order', async () => {
    const pending = { ...anOrder(), status: 'RESERVED' as const };
    const answer: CheckoutResponse = { status: 202, body: pending, replayed: false };
    const res = await checkout(appWith({ checkout: async () => answer }));
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toEqual(pending);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
  });

  it('replays a problem kept for the key as problem+json, with its order', async () => {
    const kept = problemOf('PAYMENT_DECLINED', 'Payment declined (card_declined)', undefined, { order: { ...anOrder(), status: 'PAYMENT_FAILED' } });
    const answer: CheckoutResponse = { status: 402, body: kept, replayed: true };
    const res = await checkout(appWith({ checkout: async () => answer }));
    expect(res.statusCode, res.body).toBe(402);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.headers['idempotent-replayed']).toBe('true');
    expect(res.json()).toEqual(kept);
  });

  it('lists a page of orders through the page schema', async () => {
    const app = appWith({ list: async () => ({ items: [{ ...anOrder(), extra: 1 }], nextCursor: null }) });
    const res = await injectAs(app, 'order', { method: 'GET', url: '/orders', caller: SHOPPER });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ items: [anOrder()], nextCursor: null });
  });
});
