import { isAppError } from '@agora/kernel';
import { defineStep, type SagaStep } from '@agora/platform';
import { CHECKOUT_LIMITS, type CheckoutDeps, type CheckoutInput } from '../input.js';

export interface ReserveStockResult {
  reserved: true;
}

/**
 * Holds every line's units, all or nothing. The reservation's id is the order id, so running it
 * again (recovery replays from the last checkpoint) finds the same reservation: "already held".
 */
export function reserveStockStep({ services }: CheckoutDeps): SagaStep<CheckoutInput, ReserveStockResult> {
  return defineStep<CheckoutInput, ReserveStockResult>({
    name: 'reserveStock',
    log: 'replayed',
    run: async (ctx) => {
      try {
        await services.reserve({ reservationId: ctx.input.orderId, lines: ctx.input.lines, ttlSeconds: CHECKOUT_LIMITS.reservationTtlSeconds });
      } catch (err) {
        if (isAppError(err) && err.code === 'OUT_OF_STOCK') ctx.abort('OUT_OF_STOCK', { skus: err.extras?.skus, errors: err.errors });
        // A reservation the sweeper expired (or a compensation released) is gone: the checkout cannot hold stock.
        if (isAppError(err) && err.code === 'CONFLICT') ctx.abort('OUT_OF_STOCK', { detail: err.message });
        throw err;
      }
      return { reserved: true };
    },
    compensate: async (ctx) => {
      try {
        await services.releaseReservation(ctx.input.orderId);
      } catch (err) {
        // Committed (and then restocked by the later compensation) is not ours to release.
        if (!(isAppError(err) && err.code === 'CONFLICT')) throw err;
      }
    },
  });
}
