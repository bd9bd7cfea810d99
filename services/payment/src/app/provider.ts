import type { Money } from '@agora/kernel';

/**
 * The port every payment provider adapter implements. Each call carries an idempotency key the
 * provider deduplicates on: the service sends the same key for every retry of one operation, so a
 * retry after a timeout or a crash is never a second charge, capture or refund.
 *
 * Business outcomes (declined) are results; technical failures (timeouts, 5xx, network) throw
 * `ProviderError`, which the service retries a bounded number of times with the same key.
 */
export interface AuthorizeRequest {
  /** Our payment intent id; the provider echoes it in webhooks as `paymentId`. */
  intentId: string;
  amount: Money;
  token: string;
  idempotencyKey: string;
}

export interface AuthorizeResult {
  /** `pending`: the outcome arrives later by webhook. */
  outcome: 'approved' | 'declined' | 'pending';
  providerRef: string;
  declineCode?: string;
}

export interface OperationResult {
  /** The provider's reference of the capture / void / refund. */
  providerRef: string;
}

export interface PaymentProvider {
  /** Stored on every intent (`provider`) and part of webhook routes (`/webhooks/<name>`). */
  readonly name: string;
  authorize(request: AuthorizeRequest): Promise<AuthorizeResult>;
  capture(providerRef: string, amount: Money, idempotencyKey: string): Promise<OperationResult>;
  void(providerRef: string, idempotencyKey: string): Promise<OperationResult>;
  refund(providerRef: string, amount: Money, idempotencyKey: string): Promise<OperationResult>;
}

/** A technical failure talking to the provider: nothing is known to have happened; retry with the same key. */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean = true,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProviderError';
  }
}

export function isProviderError(err: unknown): err is ProviderError {
  return err instanceof ProviderError;
}
