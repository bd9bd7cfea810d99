import { setTimeout as sleep } from 'node:timers/promises';
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

let system: PortSystem;
/** Shoppers whose cart reads are slow (the first test's); the others' are not. */
const slowCarts = new Set<string>();
/** Shoppers whose authorizations are held until released (the second test's first buyer). */
const heldAuthorizations = new Map<string, Promise<void>>();

beforeAll(async () => {
  system = await startPortSystem({
    // One checkout at a time, and a queue long enough to wait through a whole answer budget.
    env: { AGORA_CHECKOUT_MAX_IN_FLIGHT: '1', AGORA_CHECKOUT_QUEUE_WAIT_MS: String(CHECKOUT_LIMITS.answerWithinMs + 1_500) },
    orderCallees: (ports) => {
      const cart = ports.cart as CartPort;
      const payment = ports.payment as PaymentPort;
      return {
        ...ports,
        cart: {
          ...cart,
          add: cart.add.bind(cart),
          checkedOut: cart.checkedOut.bind(cart),
          lines: async (userId, options) => {
            if (slowCarts.has(userId)) await sleep(SLOW_CART_MS);
            return cart.lines(userId, options);
          },
        },
        payment: {
          authorize: async (body) => {
            await (heldAuthorizations.get(body.userId) ?? sleep(SLOW_AUTHORIZE_MS));
            return payment.authorize(body);
          },
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

const BODY = { payment: { method: 'card' as const, token: 'tok_visa' }, shippingAddress: { name: 'Slow Cart', line1: '1 Road', city: 'Porto', postalCode: '4000', country: 'PT' } };

/** A shopper with one unit in the cart. */
async function shopper(): Promise<{ userId: string; role: 'customer' }> {
  const caller = { userId: newId(), role: 'customer' as const };
  const added = await assertingForTests(system.transport, 'gateway').request('cart', { method: 'POST', path: '/cart/items', body: { sku: system.skus.plenty, quantity: 1 }, caller });
  expect(added.status).toBe(200);
  return caller;
}

describe('checkout answer budget', () => {
  it('counts the wait for a slot: a checkout queued past the budget answers 202 as soon as its order is open', async () => {
    const first = await shopper();
    const second = await shopper();
    let release: () => void = () => undefined;
    heldAuthorizations.set(first.userId, new Promise<void>((resolve) => (release = resolve)));
    try {
      const firstAnswer = system.inProcess.order.checkout(first, `budget-${newId()}`, BODY);
      // The first holds the only slot until it answers 202 (its authorization is held), a whole
      // budget: the second waits that long, then its own saga would take a moment (fast payment).
      const secondAnswer = system.inProcess.order.checkout(second, `budget-${newId()}`, BODY);
      expect((await firstAnswer).status).toBe(202);
      const answer = await secondAnswer;
      // Its budget was spent waiting: 202 at once, not a fresh budget in which it would have
      // been confirmed (201).
      expect(answer.status).toBe(202);
      expect(answer.order.status).toMatch(/^(PENDING|RESERVED)$/);
    } finally {
      release();
    }
  }, 60_000);

  it('counts the open: a cart read longer than the budget gets 202 at once after the open, and the saga still confirms', async () => {
    const caller = await shopper();
    slowCarts.add(caller.userId);
    const answer = await system.inProcess.order.checkout(caller, `budget-${newId()}`, BODY);
    expect(answer.status).toBe(202);
    expect(answer.order.status).toMatch(/^(PENDING|RESERVED)$/);
    // The saga went on: the order is soon CONFIRMED (read as the shopper polls it after a 202).
    const read = () => assertingForTests(system.transport, 'gateway').request('order', { method: 'GET', path: `/orders/${answer.order.id}`, caller });
    let status: string = answer.order.status;
    for (let i = 0; i < 50 && status !== 'CONFIRMED'; i++) {
      await sleep(100);
      status = ((await read()).body as { status: string }).status;
    }
    expect(status).toBe('CONFIRMED');
  }, 60_000);
});
