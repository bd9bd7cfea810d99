import { AppError, type Money } from '@agora/kernel';

/** Pure rules of a payment intent: its states, which moves are legal, and the money invariants. */

export const PAYMENT_STATUSES = ['PENDING', 'AUTHORIZED', 'DECLINED', 'FAILED', 'CAPTURED', 'VOIDED', 'REFUNDED'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  PENDING: ['AUTHORIZED', 'DECLINED', 'FAILED', 'VOIDED'],
  AUTHORIZED: ['CAPTURED', 'VOIDED'],
  DECLINED: [],
  FAILED: [],
  CAPTURED: ['REFUNDED'],
  VOIDED: [],
  REFUNDED: [],
};

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Statuses in which money was taken (and stays taken, minus refunds). */
export const CAPTURED_STATUSES: readonly PaymentStatus[] = ['CAPTURED', 'REFUNDED'];

export interface IntentState {
  id: string;
  status: PaymentStatus;
  amount: Money;
  capturedAmount: number;
  refundedAmount: number;
  /** Refunds reserved so far (finished or in flight); always >= refundedAmount. */
  refundReserved: number;
  /** Set once the provider acknowledged the authorization. */
  providerRef: string | undefined;
}

/** Decline codes this service itself assigns. */
export const DECLINE_CODES = {
  providerError: 'provider_error',
  invalidToken: 'invalid_token',
} as const;

export type CaptureDecision = 'capture' | 'already-captured';

/** Capturing twice is a no-op; capturing anything but an authorization is a conflict. */
export function decideCapture(intent: IntentState): CaptureDecision {
  if (CAPTURED_STATUSES.includes(intent.status)) return 'already-captured';
  if (intent.status === 'AUTHORIZED') return 'capture';
  throw new AppError('CONFLICT', `payment ${intent.id} is ${intent.status}; only an AUTHORIZED payment can be captured`);
}

/**
 * `release-at-provider`: an authorization (or a pending one the provider knows) to release;
 * `release-locally`: a pending intent the provider never acknowledged, nothing to call;
 * `nothing-held`: declined/failed/voided already, answered as is.
 */
export type VoidDecision = 'release-at-provider' | 'release-locally' | 'nothing-held';

export function decideVoid(intent: IntentState): VoidDecision {
  if (CAPTURED_STATUSES.includes(intent.status)) {
    throw new AppError('CONFLICT', `payment ${intent.id} is ${intent.status}; a captured payment is refunded, not voided`);
  }
  if (intent.status === 'AUTHORIZED') return 'release-at-provider';
  if (intent.status === 'PENDING') return intent.providerRef === undefined ? 'release-locally' : 'release-at-provider';
  return 'nothing-held';
}

/** Checks a refund request against what the intent can still give back; throws the reason. */
export function assertRefundable(intent: IntentState, amount: Money): void {
  if (amount.currency !== intent.amount.currency) {
    throw new AppError('VALIDATION_FAILED', `refund currency ${amount.currency} differs from the payment's ${intent.amount.currency}`, {
      errors: [{ path: 'amount.currency', message: `must be ${intent.amount.currency}` }],
    });
  }
  if (amount.amount <= 0) {
    throw new AppError('VALIDATION_FAILED', 'a refund must be of a positive amount', { errors: [{ path: 'amount.amount', message: 'must be > 0' }] });
  }
  if (!CAPTURED_STATUSES.includes(intent.status)) {
    throw new AppError('CONFLICT', `payment ${intent.id} is ${intent.status}; only a captured payment can be refunded`);
  }
  const refundable = intent.capturedAmount - intent.refundReserved;
  if (amount.amount > refundable) {
    throw new AppError('CONFLICT', `refund of ${amount.amount} exceeds the ${refundable} still refundable on payment ${intent.id}`, {
      errors: [{ path: 'amount.amount', message: `must be <= ${refundable} (captured ${intent.capturedAmount}, refunded or refunding ${intent.refundReserved})` }],
    });
  }
}

/** The authorize amount: a positive integer of minor units (a free order needs no payment). */
export function assertAuthorizable(amount: Money): void {
  if (amount.amount <= 0) {
    throw new AppError('VALIDATION_FAILED', 'an authorization must be of a positive amount', { errors: [{ path: 'amount.amount', message: 'must be > 0' }] });
  }
}

/** The ledger invariant of one intent; returns what is broken (empty when it holds). */
export function intentViolations(intent: IntentState): string[] {
  const broken: string[] = [];
  if (intent.capturedAmount < 0 || intent.capturedAmount > intent.amount.amount) broken.push(`captured ${intent.capturedAmount} outside 0..${intent.amount.amount}`);
  if (intent.refundedAmount < 0 || intent.refundedAmount > intent.capturedAmount) broken.push(`refunded ${intent.refundedAmount} outside 0..captured ${intent.capturedAmount}`);
  if (intent.refundReserved < intent.refundedAmount || intent.refundReserved > intent.capturedAmount) broken.push(`refund reserve ${intent.refundReserved} outside refunded..captured`);
  if (CAPTURED_STATUSES.includes(intent.status) !== intent.capturedAmount > 0) broken.push(`status ${intent.status} with captured ${intent.capturedAmount}`);
  if (intent.status === 'REFUNDED' && intent.refundedAmount !== intent.capturedAmount) broken.push('REFUNDED but not fully refunded');
  return broken.map((b) => `payment ${intent.id}: ${b}`);
}

/** What the provider said about an authorization, as the intent status it leads to. */
export type AuthorizationOutcome = 'approved' | 'declined' | 'pending';

export function statusAfterAuthorization(outcome: AuthorizationOutcome): PaymentStatus {
  switch (outcome) {
    case 'approved':
      return 'AUTHORIZED';
    case 'declined':
      return 'DECLINED';
    case 'pending':
      return 'PENDING';
  }
}

export type SettlementEventType = 'payment.authorized' | 'payment.declined' | 'payment.failed';
export type SettledStatus = 'AUTHORIZED' | 'DECLINED' | 'FAILED';

export function statusOfSettlement(type: SettlementEventType): SettledStatus {
  switch (type) {
    case 'payment.authorized':
      return 'AUTHORIZED';
    case 'payment.declined':
      return 'DECLINED';
    case 'payment.failed':
      return 'FAILED';
  }
}
