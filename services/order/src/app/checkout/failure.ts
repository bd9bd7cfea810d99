import type { OrderStatus } from '@agora/contracts/order';
import type { SagaFailure } from '@agora/platform';

/**
 * The terminal status a failed checkout leaves its order in, and the reason its history gives.
 * Only business answers (aborts) and unclassified errors get here: a transient fault (the database
 * out of connections, a peer's 503) never ends a saga — it is retried, then parked for recovery
 * (docs/checkout.md, "Transient faults never decide an order").
 */
export function failedStatus(failure: SagaFailure | undefined): { status: OrderStatus; reason: string } {
  if (!failure) return { status: 'REJECTED', reason: 'checkout failed' };
  if (failure.kind === 'timeout') return { status: 'EXPIRED', reason: 'payment was not completed in time' };
  if (failure.kind === 'aborted') {
    if (failure.reason === 'OUT_OF_STOCK') return { status: 'REJECTED', reason: 'out of stock' };
    if (failure.reason === 'CANCELLED') return { status: 'CANCELLED', reason: 'cancelled by the shopper' };
    return { status: 'PAYMENT_FAILED', reason: failure.reason === 'PAYMENT_DECLINED' ? declineReason(failure.data) : failure.reason };
  }
  if (failure.step === 'reserveStock' || failure.step === 'open') return { status: 'REJECTED', reason: `inventory unavailable: ${failure.message}` };
  return { status: 'PAYMENT_FAILED', reason: `payment could not be completed: ${failure.message}` };
}

/** Stock was reserved before the failure: every step after reserveStock runs on a reservation. */
export function reservedBeforeFailure(failure: SagaFailure | undefined): boolean {
  return failure !== undefined && failure.step !== 'open' && failure.step !== 'reserveStock';
}

function declineReason(data: unknown): string {
  const code = typeof data === 'object' && data !== null && 'declineCode' in data ? String((data as { declineCode: unknown }).declineCode) : undefined;
  return code ? `payment declined (${code})` : 'payment declined';
}
