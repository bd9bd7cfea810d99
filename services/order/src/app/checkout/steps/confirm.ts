import { AppError } from '@agora/kernel';
import { EVENT_TYPES } from '@agora/contracts/events';
import { defineStep, type SagaStep, type StepRef } from '@agora/platform';
import { newEnvelope } from '@agora/platform';
import { orderConfirmed } from '../../events.js';
import type { CheckoutDeps, CheckoutInput } from '../input.js';
import type { AuthorizePaymentResult } from './authorize-payment.js';

export interface ConfirmResult {
  confirmed: true;
  /** The token under which the confirmed order waits in `FreshAnswers` for the request driving this saga. */
  answer: string;
}

/**
 * The order becomes CONFIRMED, with its history, its OrderConfirmed fact in the outbox and the
 * 201 answer kept for replays — all parts of the one statement of the checkpoint that completes
 * the saga (a fused step): one commit ends the checkout. The order is the one the checkout opened
 * (carried in the saga's input), still PENDING unless the payment waited (then it is RESERVED and
 * read); the precondition holds the write back if the order moved, and the retry reads it.
 */
export function confirmStep({ store, clock, answers }: CheckoutDeps, authorize: StepRef<AuthorizePaymentResult>): SagaStep<CheckoutInput, ConfirmResult> {
  return defineStep<CheckoutInput, ConfirmResult>({
    name: 'confirm',
    log: 'fused',
    run: async (ctx) => {
      const asOpened = ctx.attempt === 1 && !ctx.result(authorize).waited ? ctx.input.opened : undefined;
      const order = asOpened ?? (await store.get(ctx.input.orderId));
      if (!order) throw new AppError('NOT_FOUND', `order ${ctx.input.orderId} not found`);
      const { confirmed, precondition, parts } = store.confirmation(order, (o) => [newEnvelope(EVENT_TYPES.OrderConfirmed, o.id, orderConfirmed(o), clock.now())]);
      return ctx.fuse({ confirmed: true, answer: answers.put(confirmed) }, { precondition, parts });
    },
  });
}
