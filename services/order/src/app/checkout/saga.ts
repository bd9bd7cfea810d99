import { defineSaga, type Logger, type SagaDefinition } from '@agora/platform';
import type { CheckoutDeps, CheckoutInput } from './input.js';
import { authorizePaymentStep } from './steps/authorize-payment.js';
import { capturePaymentStep } from './steps/capture-payment.js';
import { clearCartStep } from './steps/clear-cart.js';
import { commitStockStep } from './steps/commit-stock.js';
import { confirmStep } from './steps/confirm.js';
import { openStep } from './steps/open.js';
import { reserveStockStep } from './steps/reserve-stock.js';

/**
 * Checkout as a durable saga (docs/checkout.md): open → reserve stock → authorize → commit
 * stock → capture → clear the cart → confirm, each step in its own file beside its compensation.
 *
 * The log is lean. The order and its saga are born together (leased to the instance that answers
 * the shopper) in the transaction that records the Idempotency-Key. The remote steps are
 * `replayed`: idempotent on the order id or their key, they write no log of their own, and after
 * a crash recovery runs them again from the birth, each answering "already done". `confirm` is
 * `fused`: the order's confirmation, its fact in the outbox, the kept answer and the saga's
 * completion are one statement. The happy path writes the log twice: born, completed.
 */
export function checkoutSaga(deps: CheckoutDeps, logger: Logger): SagaDefinition<CheckoutInput> {
  const authorize = authorizePaymentStep(deps);
  return defineSaga<CheckoutInput>('checkout', [
    openStep(deps),
    reserveStockStep(deps),
    authorize,
    commitStockStep(deps),
    capturePaymentStep(deps, authorize),
    clearCartStep(deps, logger),
    confirmStep(deps, authorize),
  ]);
}
