import { defineStep, type SagaStep } from '@agora/platform';
import { RESERVED_REASON } from '../../../store/order-store.js';
import { checkoutRefundKey, releaseOrderPayments } from '../../payments.js';
import { CHECKOUT_LIMITS, type CheckoutDeps, type CheckoutInput, type PaymentSignal } from '../input.js';

export interface AuthorizePaymentResult {
  intentId: string;
  /** The payment was asynchronous: the order waited, RESERVED, for the provider's answer. */
  waited?: true;
}

/**
 * Authorizes the order's total, idempotent on the step's key: run again, the provider answers
 * with the same intent (also once it is captured). An asynchronous payment (PENDING) shows the
 * order as RESERVED and waits for the provider's webhook, or for the shopper's cancel.
 */
export function authorizePaymentStep({ store, services, clock }: CheckoutDeps): SagaStep<CheckoutInput, AuthorizePaymentResult> {
  return defineStep<CheckoutInput, AuthorizePaymentResult>({
    name: 'authorizePayment',
    log: 'replayed',
    run: async (ctx) => {
      const intent = await services.authorize({
        orderId: ctx.input.orderId,
        userId: ctx.input.userId,
        amount: ctx.input.total,
        token: ctx.input.payment.token,
        idempotencyKey: ctx.idempotencyKey,
      });
      if (intent.status === 'AUTHORIZED' || intent.status === 'CAPTURED') return { intentId: intent.id };
      if (intent.status === 'PENDING') {
        // The shopper waits on this order: it must say RESERVED (and be cancellable) while it waits.
        await store.transition(ctx.input.orderId, ['PENDING'], 'RESERVED', RESERVED_REASON);
        return ctx.wait({ until: new Date(clock.now().getTime() + CHECKOUT_LIMITS.paymentWaitMs), data: { intentId: intent.id } });
      }
      return ctx.abort('PAYMENT_DECLINED', { intentId: intent.id, declineCode: intent.declineCode ?? intent.status.toLowerCase() });
    },
    onSignal: async (ctx) => {
      const signal = ctx.signal as PaymentSignal;
      if (signal.kind === 'cancel') {
        // An abort is not compensated ("nothing of mine is held"), but the pending authorization
        // is held: release it first, or a late approval would keep the shopper's money on hold.
        await releaseOrderPayments(services, ctx.input.orderId, ctx.idempotencyKey, checkoutRefundKey(ctx.input.orderId));
        return ctx.abort('CANCELLED', { reason: signal.reason });
      }
      if (signal.status === 'AUTHORIZED') return { intentId: signal.paymentId, waited: true };
      return ctx.abort('PAYMENT_DECLINED', { intentId: signal.paymentId, declineCode: signal.reason ?? signal.status.toLowerCase() });
    },
    // Release whatever this order still holds with the provider (also an intent whose answer we never
    // saw): void an authorization; refund one whose capture landed after the capture step gave up.
    compensate: (ctx) => releaseOrderPayments(services, ctx.input.orderId, ctx.idempotencyKey, checkoutRefundKey(ctx.input.orderId)),
  });
}
