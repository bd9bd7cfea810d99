import { AppError, isAppError, type Clock } from '@agora/kernel';
import { EVENT_TYPES } from '@agora/contracts/events';
import { payment, type order } from '@agora/contracts';
import type { Caller, Logger } from '@agora/platform';
import type { Collaborators } from '../clients.js';
import { newEnvelope } from '@agora/platform';
import { orderConfirmed } from '../events.js';
import type { OrderShard, Orders } from '../orders.js';
import { releaseOrderPayments } from '../payments.js';
import { flashSaleOf, paymentDeadline, releasedEvents } from './flash-orders.js';

/** Payment keys of a flash-sale order: one authorization and one capture per order, whatever the retries. */
const payKey = (orderId: string, step: 'authorize' | 'capture' | 'release') => `${orderId}:pay:${step}`;

export interface PayAnswer {
  status: 200;
  order: order.Order;
}

/**
 * Pays a flash-sale order (RESERVED, awaiting payment) within its payment window: authorize, then
 * capture, through the payment port — both keyed on the order, so concurrent or repeated pays
 * charge once — then CONFIRMED with the order.confirmed fact in one transaction. A declined card
 * makes it PAYMENT_FAILED and gives the units back to the sale. Any other order answers 409, as
 * before: checkout orders carry their payment from the start.
 */
export class FlashSalePayments {
  constructor(
    private readonly orders: Orders,
    private readonly services: Collaborators,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly paymentWindowMs: number,
  ) {}

  async pay(caller: Caller, orderId: string, body: order.PayBody): Promise<PayAnswer> {
    const current = await this.orders.get(caller, orderId);
    return this.orders.onShopperShard(current.userId, async (shard) => {
      const sale = await flashSaleOf(shard, orderId);
      if (!sale) throw new AppError('CONFLICT', `this order is ${current.status} and not awaiting a payment`, { extras: { order: current } });
      if (current.status === 'CONFIRMED') return { status: 200, order: current };
      if (current.status !== 'RESERVED') throw new AppError('CONFLICT', `this order is ${current.status} and can no longer be paid`, { extras: { order: current } });
      const deadline = paymentDeadline(current, sale, this.paymentWindowMs);
      if (this.clock.now().getTime() > deadline.getTime()) {
        throw new AppError('CONFLICT', `the payment window of this flash-sale order closed at ${deadline.toISOString()}`, { extras: { order: current } });
      }
      const intent = await this.services.authorize({ orderId, userId: current.userId, amount: current.total, token: body.payment.token, idempotencyKey: payKey(orderId, 'authorize') });
      if (intent.status !== 'AUTHORIZED' && intent.status !== 'CAPTURED') {
        return this.decline(shard, sale.saleId, orderId, intent.declineCode ?? intent.status.toLowerCase());
      }
      try {
        await this.services.capture(intent.id, payKey(orderId, 'capture'));
      } catch (err) {
        if (isAppError(err) && err.code === 'CONFLICT' && err.extras?.refusedBy === payment.PROVIDER_REFUSAL) return this.decline(shard, sale.saleId, orderId, 'capture refused');
        throw err;
      }
      try {
        const now = this.clock.now();
        await shard.store.transition(orderId, ['RESERVED'], 'CONFIRMED', 'paid', (paid) => [newEnvelope(EVENT_TYPES.OrderConfirmed, paid.id, { ...orderConfirmed(paid), flashSale: true }, now)]);
      } catch (err) {
        // Expired meanwhile (the sweeper's grace is over): the money goes back, the order stays EXPIRED.
        if (isAppError(err) && err.code === 'CONFLICT') {
          this.logger.warn({ orderId }, 'flash-sale order expired while it was being paid; the payment is given back');
          await releaseOrderPayments(this.services, orderId, payKey(orderId, 'release'), payKey(orderId, 'release'));
        }
        throw err;
      }
      return { status: 200, order: await this.orders.get(caller, orderId) };
    });
  }

  /**
   * Flash-sale orders are not cancelled by the shopper: their units belong to a sale that may be
   * over, and an unpaid one expires by itself (units back to the sale). 409 CONFLICT.
   */
  async refuseCancel(caller: Caller, orderId: string): Promise<void> {
    const current = await this.orders.get(caller, orderId);
    const sale = await this.orders.onShopperShard(current.userId, (shard) => flashSaleOf(shard, orderId));
    if (sale) throw new AppError('CONFLICT', 'a flash-sale order cannot be cancelled; an unpaid one expires by itself', { extras: { order: current } });
  }

  private async decline(shard: OrderShard, saleId: string, orderId: string, declineCode: string): Promise<never> {
    await releaseOrderPayments(this.services, orderId, payKey(orderId, 'release'), payKey(orderId, 'release'));
    const reason = `payment declined (${declineCode})`;
    await shard.store.transition(orderId, ['RESERVED'], 'PAYMENT_FAILED', reason, releasedEvents(saleId, reason, this.clock.now()));
    const failed = await shard.store.get(orderId);
    throw new AppError('PAYMENT_DECLINED', `The card was declined (${declineCode})`, { extras: { order: failed } });
  }
}
