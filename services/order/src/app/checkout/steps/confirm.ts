import { AppError } from '@agora/kernel';
import { EVENT_TYPES } from '@agora/contracts/events';
import { defineStep, type SagaStep } from '@agora/platform';
import { event, orderConfirmed } from '../../events.js';
import type { CheckoutDeps, CheckoutInput } from '../input.js';

export interface ConfirmResult {
  confirmed: true;
  /** The token under which the confirmed order waits in `FreshAnswers` for the request driving this saga. */
  answer: string;
}

/**
 * The order becomes CONFIRMED, with its history, its OrderConfirmed fact in the outbox and the
 * 201 answer kept for replays — all parts of the one statement of the checkpoint that completes
 * the saga (a fused step): one read, one commit end the checkout.
 */
export function confirmStep({ store, clock, answers }: CheckoutDeps): SagaStep<CheckoutInput, ConfirmResult> {
  return defineStep<CheckoutInput, ConfirmResult>({
    name: 'confirm',
    log: 'fused',
    run: async (ctx) => {
      const order = await store.get(ctx.input.orderId);
      if (!order) throw new AppError('NOT_FOUND', `order ${ctx.input.orderId} not found`);
      const { confirmed, precondition, parts } = store.confirmation(order, (o) => [event(EVENT_TYPES.OrderConfirmed, o.id, orderConfirmed(o), clock.now())]);
      return ctx.fuse({ confirmed: true, answer: answers.put(confirmed) }, { precondition, parts });
    },
  });
}
