import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@agora/kernel';
import type { CartPort, PaymentPort } from '@agora/contracts';
import { assertingForTests } from '@agora/platform/testing';
import { CHECKOUT_LIMITS } from '../../services/order/src/app/checkout/input.js';
import { startPortSystem, type PortSystem } from './port-system.js';

/**
 * A checkout answers within `answerWithinMs` of its start, the open included: when reading the
 * cart alone takes longer than that, the checkout answers 202 with the order as soon as the order
 * is open, instead of giving the saga another full budget (which here would end it CONFIRMED, 201,
 * and keep the caller waiting past its own call's limit). The saga goes on and confirms; the
 * shopper sees that by reading the order (the key keeps answering its first answer, the 202).
 */
const SLOW_CART_MS = CHECKOUT_LIMITS.answerWithinMs + 200;
/** Short enough that the saga ends well inside one more budget after the open. */
const SLOW_AUTHORIZE_MS = 300;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let system: PortSystem;

beforeAll(async () => {
  system = await startPortSystem({
    orderCallees: (ports) => {
      const cart = ports.cart as CartPort;
      const payment = ports.payment as PaymentPort;
      return {
        ...ports,
        cart: { ...cart, add: cart.add.bind(cart), checkedOut: cart.checkedOut.bind(cart), lines: async (userId, options) => (await pause(SLOW_CART_MS), cart.lines(userId, options)) },
        payment: {
          authorize: async (body) => (await pause(SLOW_AUTHORIZE_MS), payment.authorize(body)),
          capture: payment.capture.bind(payment),
          void: payment.void.bind(payment),
          refund: payment.refund.bind(payment),
          paymentsOf: payment.paymentsOf.bind(payment),
        },
      };
    },
  });
}, 120_000);

afterAll(async () => {
  await system?.stop();
});

describe('checkout answer budget', () => {
  it('counts the open: a cart read longer than the budget gets 202 at once after the open, and the saga still confirms', async () => {
    const caller = { userId: newId(), role: 'customer' as const };
    const added = await assertingForTests(system.transport, 'gateway').request('cart', { method: 'POST', path: '/cart/items', body: { sku: system.skus.plenty, quantity: 1 }, caller });
    expect(added.status).toBe(200);
    const key = `budget-${newId()}`;
    const body = { payment: { method: 'card' as const, token: 'tok_visa' }, shippingAddress: { name: 'Slow Cart', line1: '1 Road', city: 'Porto', postalCode: '4000', country: 'PT' } };
    const answer = await system.inProcess.order.checkout(caller, key, body);
    expect(answer.status).toBe(202);
    expect(answer.order.status).toMatch(/^(PENDING|RESERVED)$/);
    // The saga went on: the order is soon CONFIRMED (read as the shopper polls it after a 202).
    const read = () => assertingForTests(system.transport, 'gateway').request('order', { method: 'GET', path: `/orders/${answer.order.id}`, caller });
    let status: string = answer.order.status;
    for (let i = 0; i < 50 && status !== 'CONFIRMED'; i++) {
      await pause(100);
      status = ((await read()).body as { status: string }).status;
    }
    expect(status).toBe('CONFIRMED');
  }, 60_000);
});
