import { statusOfSettlement, type PaymentStatus, type SettledStatus, type SettlementEventType } from './intent.js';

/** A provider's asynchronous verdict on an authorization, as a webhook brings it. */
export interface SettlementEvent {
  id: string;
  type: SettlementEventType;
  paymentId: string;
  providerRef: string;
  declineCode?: string | undefined;
}

export type IgnoreReason = 'unknown_payment' | 'already_final' | 'provider_ref_mismatch';

export type SettlementDecision = { apply: true; status: SettledStatus; declineCode: string | undefined } | { apply: false; reason: IgnoreReason };

/**
 * Only a PENDING intent settles. Anything else is final already (a redelivery, a late event after a
 * void, a verdict that raced the synchronous answer) and is ignored, idempotently. An event naming
 * another provider reference than the one we hold is not about this authorization.
 */
export function decideSettlement(intent: { status: PaymentStatus; providerRef: string | undefined } | undefined, event: SettlementEvent): SettlementDecision {
  if (!intent) return { apply: false, reason: 'unknown_payment' };
  if (intent.status !== 'PENDING') return { apply: false, reason: 'already_final' };
  if (intent.providerRef !== undefined && intent.providerRef !== event.providerRef) return { apply: false, reason: 'provider_ref_mismatch' };
  const status = statusOfSettlement(event.type);
  const declineCode = status === 'AUTHORIZED' ? undefined : (event.declineCode ?? (status === 'FAILED' ? 'provider_error' : 'card_declined'));
  return { apply: true, status, declineCode };
}
