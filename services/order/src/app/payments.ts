import type { Money } from '@agora/kernel';
import type { Collaborators } from './clients.js';

/**
 * Money an order holds with the provider, given back — shared by the checkout's compensations
 * and the cancel saga, so there is one way to undo a payment.
 */

/** Voids every authorization of the order that still holds money (AUTHORIZED or PENDING), idempotently. */
export async function voidHeldPayments(services: Collaborators, orderId: string, idempotencyKey: string): Promise<void> {
  for (const intent of await services.paymentsOf(orderId)) {
    if (intent.status === 'AUTHORIZED' || intent.status === 'PENDING') await services.voidPayment(intent.id, `${idempotencyKey}:void:${intent.id}`);
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
    const refundable = intent.capturedAmount.amount - intent.refundedAmount.amount;
    if (refundable > 0) await services.refund(intent.id, { amount: refundable, currency: intent.amount.currency }, `${idempotencyKey}:${intent.id}`);
  }
  return captured;
}
