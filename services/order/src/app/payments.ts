import { isAppError, type Money } from '@agora/kernel';
import type { payment } from '@agora/contracts';
import type { Collaborators } from './clients.js';

/**
 * Money an order holds with the provider, given back — shared by the checkout's compensations
 * and the cancel saga, so there is one way to undo a payment. Each intent gets what its recorded
 * state needs: an authorization is voided, a capture refunded; never a refund of a charge that is
 * only authorized (the provider refuses it), never a void of a captured one.
 */

/** The refund key of a checkout's captures: the capture step's compensation and the release below share it, so a refund begun by one is finished, not repeated, by the other. */
export function checkoutRefundKey(orderId: string): string {
  return `${orderId}:capturePayment:refund`;
}

/**
 * Releases everything the order still holds, idempotently: AUTHORIZED or PENDING intents are
 * voided; an intent captured meanwhile (a capture that landed after the capture step gave up on
 * it: the void answers 409 CONFLICT) is refunded instead, with `refundKey`.
 */
export async function releaseOrderPayments(services: Collaborators, orderId: string, voidKey: string, refundKey: string): Promise<void> {
  for (const intent of await services.paymentsOf(orderId)) {
    let current: payment.PaymentIntent | undefined = intent;
    if (intent.status === 'AUTHORIZED' || intent.status === 'PENDING') {
      try {
        await services.voidPayment(intent.id, `${voidKey}:void:${intent.id}`);
        continue;
      } catch (err) {
        if (!(isAppError(err) && err.code === 'CONFLICT')) throw err;
        current = (await services.paymentsOf(orderId)).find((candidate) => candidate.id === intent.id);
        // Still only authorized: the conflict was something else; the saga's retry asks again.
        if (!current || current.status === 'AUTHORIZED' || current.status === 'PENDING') throw err;
      }
    }
    await refundIntent(services, current, refundKey);
  }
}

/**
 * Refunds whatever of the order's captures is not refunded yet, idempotently (one key per
 * intent); returns the amount captured in all. An intent only authorized is not refunded (there
 * is nothing captured to give back): the provider refuses that, and voiding it is the other routine's job.
 */
export async function refundCaptured(services: Collaborators, orderId: string, idempotencyKey: string): Promise<Money | undefined> {
  let captured: Money | undefined;
  for (const intent of await services.paymentsOf(orderId)) {
    captured = { amount: (captured?.amount ?? 0) + intent.capturedAmount.amount, currency: intent.amount.currency };
    await refundIntent(services, intent, idempotencyKey);
  }
  return captured;
}

async function refundIntent(services: Collaborators, intent: payment.PaymentIntent, idempotencyKey: string): Promise<void> {
  const refundable = intent.capturedAmount.amount - intent.refundedAmount.amount;
  if (refundable > 0) await services.refund(intent.id, { amount: refundable, currency: intent.amount.currency }, `${idempotencyKey}:${intent.id}`);
}
