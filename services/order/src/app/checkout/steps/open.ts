import { defineStep, type SagaStep } from '@agora/platform';
import { failedStatus, reservedBeforeFailure } from '../failure.js';
import type { CheckoutDeps, CheckoutInput } from '../input.js';

export type OpenResult = Record<string, never>;

/**
 * The order is opened (PENDING, with the saga born leased) in the transaction that records the
 * Idempotency-Key, before the saga runs; this step is there for its compensation. It runs first
 * and compensates last: whatever failed, the order ends in its terminal status, and its history
 * shows RESERVED when stock was reserved on the way.
 */
export function openStep({ store }: CheckoutDeps): SagaStep<CheckoutInput, OpenResult> {
  return defineStep<CheckoutInput, OpenResult>({
    name: 'open',
    log: 'replayed',
    run: async () => ({}),
    compensate: async (ctx) => {
      const { status, reason } = failedStatus(ctx.failure);
      await store.transition(ctx.input.orderId, ['PENDING', 'RESERVED'], status, reason, undefined, { reservedOnTheWay: reservedBeforeFailure(ctx.failure) });
    },
  });
}
