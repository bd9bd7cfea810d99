import { defineStep, type Logger, type SagaStep } from '@agora/platform';
import type { CheckoutDeps, CheckoutInput } from '../input.js';

export interface ClearCartResult {
  cleared: boolean;
}

/**
 * The checked-out quantities leave the cart, once per order (the cart keys it by order id, so a
 * replay is "already done"); lines added meanwhile stay. It never decides an order: the order is
 * paid by now, so a cart that cannot be reached keeps its lines (logged) and the checkout goes on.
 */
export function clearCartStep({ services }: CheckoutDeps, logger: Logger): SagaStep<CheckoutInput, ClearCartResult> {
  return defineStep<CheckoutInput, ClearCartResult>({
    name: 'clearCart',
    log: 'replayed',
    run: async (ctx) => {
      try {
        await services.checkedOut(ctx.input.userId, { orderId: ctx.input.orderId, lines: ctx.input.lines });
        return { cleared: true };
      } catch (err) {
        logger.warn({ err, orderId: ctx.input.orderId }, 'checkout: the cart could not be cleared; its lines stay');
        return { cleared: false };
      }
    },
  });
}
