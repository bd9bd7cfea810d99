import { isAppError, type Money } from '@agora/kernel';
import { payment } from '@agora/contracts';
import { defineStep, type SagaStep, type StepRef } from '@agora/platform';
import { checkoutRefundKey, refundCaptured } from '../../payments.js';
import type { CheckoutDeps, CheckoutInput } from '../input.js';
import type { AuthorizePaymentResult } from './authorize-payment.js';

/** The decline code an order's history gives when the provider refused the capture. */
export const CAPTURE_REFUSED = 'capture_declined';

export interface CapturePaymentResult {
  intentId: string;
  captured: Money;
}

/**
 * Captures the authorization, idempotent on the step's key (a second capture answers the first).
 * Its compensation refunds what was captured — the same routine as cancelling a paid order.
 */
export function capturePaymentStep({ services }: CheckoutDeps, authorize: StepRef<AuthorizePaymentResult>): SagaStep<CheckoutInput, CapturePaymentResult> {
  return defineStep<CheckoutInput, CapturePaymentResult>({
    name: 'capturePayment',
    log: 'replayed',
    run: async (ctx) => {
      const { intentId } = ctx.result(authorize);
      try {
        const intent = await services.capture(intentId, ctx.idempotencyKey);
        return { intentId, captured: intent.capturedAmount };
      } catch (err) {
        // The provider refused the capture (not a fault: asked again, it refuses again): the
        // payment is declined, and the steps before are compensated (restock, void, release).
        if (isAppError(err) && err.code === 'CONFLICT' && err.extras?.refusedBy === payment.PROVIDER_REFUSAL) {
          return ctx.abort('PAYMENT_DECLINED', { intentId, declineCode: CAPTURE_REFUSED });
        }
        throw err;
      }
    },
    // Only a capture that landed is refunded; an authorization still held is the authorize step's to void.
    compensate: async (ctx) => {
      await refundCaptured(services, ctx.input.orderId, checkoutRefundKey(ctx.input.orderId));
    },
  });
}
