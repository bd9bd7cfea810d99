import { isAppError } from '@agora/kernel';
import { defineStep, type SagaStep } from '@agora/platform';
import type { CheckoutDeps, CheckoutInput } from '../input.js';

export interface CommitStockResult {
  committed: true;
}

/** Takes the held units out of stock for good; committing a committed reservation is "already done". */
export function commitStockStep({ services }: CheckoutDeps): SagaStep<CheckoutInput, CommitStockResult> {
  return defineStep<CheckoutInput, CommitStockResult>({
    name: 'commitStock',
    log: 'replayed',
    run: async (ctx) => {
      await services.commitReservation(ctx.input.orderId);
      return { committed: true };
    },
    compensate: async (ctx) => {
      try {
        await services.restockReservation(ctx.input.orderId);
      } catch (err) {
        // Never committed (HELD/RELEASED): the reservation step's compensation releases it.
        if (!(isAppError(err) && (err.code === 'CONFLICT' || err.code === 'NOT_FOUND'))) throw err;
      }
    },
  });
}
