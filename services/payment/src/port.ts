import type { Money } from '@agora/kernel';
import type { PaymentPort, payment } from '@agora/contracts';
import { InProcessBoundary, type Logger } from '@agora/platform';
import type { Payments } from './app/payments.js';

/**
 * The payment port in process: the payment routes' application object, called directly. The
 * routes take no caller (only services reach them), so neither does this; input validation stays
 * with the routes. Answers the same intents and fails with the same codes.
 */
export class InProcessPaymentPort implements PaymentPort {
  private readonly boundary: InProcessBoundary;

  constructor(
    private readonly payments: Payments,
    logger: Logger,
  ) {
    this.boundary = new InProcessBoundary('payment', logger);
  }

  authorize(body: payment.AuthorizeBody): Promise<payment.PaymentIntent> {
    return this.boundary.run('authorize', () => this.payments.authorize(body));
  }

  capture(intentId: string, idempotencyKey: string): Promise<payment.PaymentIntent> {
    return this.boundary.run('capture', () => this.payments.capture(intentId, idempotencyKey));
  }

  void(intentId: string, idempotencyKey: string): Promise<payment.PaymentIntent> {
    return this.boundary.run('void', () => this.payments.void(intentId, idempotencyKey));
  }

  refund(intentId: string, amount: Money, idempotencyKey: string): Promise<payment.PaymentIntent> {
    return this.boundary.run('refund', () => this.payments.refund(intentId, amount, idempotencyKey));
  }

  paymentsOf(orderId: string): Promise<payment.PaymentIntent[]> {
    return this.boundary.run('paymentsOf', () => this.payments.listByOrder(orderId));
  }
}
