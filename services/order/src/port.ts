import { fromProblem, isProblem } from '@agora/kernel';
import type { CheckoutAnswer, OrderPort, PortCallOptions, PortCaller, order } from '@agora/contracts';
import { InProcessBoundary, type Logger } from '@agora/platform';
import type { AdmissionGate } from './app/admission.js';
import type { CheckoutResponse, Orders } from './app/orders.js';
import { CHECKOUT_LIMITS } from './app/checkout/input.js';

/**
 * The order port in process: checkout behind this process's admission gate, called directly by
 * the gateway in `agora start` and by the order service's own `POST /checkout` route (so the gate
 * and the answer's shape live in one place whichever way a checkout arrives). A gate that sheds
 * the checkout fails it with UNAVAILABLE and a Retry-After before any work: no order, no key kept.
 */
export class InProcessOrderPort implements OrderPort {
  private readonly boundary: InProcessBoundary;

  constructor(
    private readonly orders: Pick<Orders, 'checkout'>,
    private readonly gate: AdmissionGate,
    logger: Logger,
  ) {
    this.boundary = new InProcessBoundary('order', logger);
  }

  checkout(caller: PortCaller, idempotencyKey: string | undefined, body: order.CheckoutBody, options: PortCallOptions = {}): Promise<CheckoutAnswer> {
    // Replays of a finished checkout (same Idempotency-Key) pass the gate too, though they only
    // read the stored answer: they are cheap and brief, so they free their slot at once, and a
    // replay refused under overload is just retried later with the same key — nothing is lost.
    return this.boundary.run('checkout', async () => checkoutAnswer(await this.admitted(caller, idempotencyKey, body, options.requestId)));
  }

  /**
   * The checkout's result behind the gate, a kept problem included (the HTTP route marks a replay
   * of one too). Its answer is due `answerWithinMs` after it arrived here: time spent waiting for
   * a slot is time the saga does not get before the 202.
   */
  admitted(caller: PortCaller, idempotencyKey: string | undefined, body: order.CheckoutBody, requestId?: string): Promise<CheckoutResponse> {
    const answerBy = Date.now() + CHECKOUT_LIMITS.answerWithinMs;
    return this.gate.run(() => this.orders.checkout(caller, idempotencyKey, body, requestId, answerBy));
  }
}

/**
 * A checkout's result as the port answers it. A problem kept for the key (out of stock,
 * declined, ...) fails again the way it first did, as the AppError its problem names.
 */
export function checkoutAnswer(result: CheckoutResponse): CheckoutAnswer {
  if (isProblem(result.body)) throw fromProblem(result.body);
  if (result.status !== 201 && result.status !== 202) throw new Error(`checkout answered ${result.status} with no problem in the body`);
  // A replayed body is stored JSON: the order this service answered the first time, kept as it was.
  return { status: result.status, order: result.body as order.Order, replayed: result.replayed };
}
