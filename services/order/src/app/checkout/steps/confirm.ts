import { EVENT_TYPES } from '@agora/contracts/events';
import { defineStep, type SagaStep } from '@agora/platform';
import { event, orderConfirmed } from '../../events.js';
import type { CheckoutDeps, CheckoutInput } from '../input.js';

export interface ConfirmResult {
  confirmed: true;
}

/**
 * The order becomes CONFIRMED, with its history, its OrderConfirmed fact in the outbox and the
 * 201 answer kept for replays — all in the transaction of the checkpoint that completes the saga
 * (a local step): one commit ends the checkout.
 */
export function confirmStep({ store, clock }: CheckoutDeps): SagaStep<CheckoutInput, ConfirmResult> {
  return defineStep<CheckoutInput, ConfirmResult>({
    name: 'confirm',
    log: 'local',
    run: async (ctx) => {
      if (!ctx.tx) throw new Error('confirm is a local step: it runs in the checkpoint transaction');
      await store.confirm(ctx.tx, ctx.input.orderId, (order) => [event(EVENT_TYPES.OrderConfirmed, order.id, orderConfirmed(order), clock.now())]);
      return { confirmed: true };
    },
  });
}
