import type { Clock, Money } from '@agora/kernel';
import { EVENT_TYPES, type OrderCancelled } from '@agora/contracts/events';
import { defineSaga, defineStep, type SagaDefinition } from '@agora/platform';
import type { OrderStore } from '../../store/order-store.js';
import type { Collaborators } from '../clients.js';
import { newEnvelope } from '@agora/platform';
import { refundCaptured } from '../payments.js';

export interface CancelInput {
  orderId: string;
  reason: string;
}

interface RefundResult {
  refunded: Money;
}

/**
 * Cancelling a CONFIRMED order: refund, restock, then CANCELLED with an OrderCancelled fact. The
 * remote steps are idempotent (refunds keyed per intent, restock of a restocked reservation is
 * "already done") and replayed; the last is local: the order's change, its fact and the saga's
 * completion commit together.
 */
export function cancelSaga(store: OrderStore, services: Collaborators, clock: Clock): SagaDefinition<CancelInput> {
  const refund = defineStep<CancelInput, RefundResult>({
    name: 'refund',
    log: 'replayed',
    run: async (ctx) => {
      const captured = await refundCaptured(services, ctx.input.orderId, ctx.idempotencyKey);
      return { refunded: captured ?? { amount: 0, currency: 'USD' } };
    },
  });
  return defineSaga<CancelInput>('cancelOrder', [
    refund,
    {
      name: 'restock',
      log: 'replayed',
      run: async (ctx) => {
        await services.restockReservation(ctx.input.orderId);
        return { restocked: true };
      },
    },
    {
      name: 'markCancelled',
      log: 'local',
      run: async (ctx) => {
        if (!ctx.tx) throw new Error('markCancelled is a local step: it runs in the checkpoint transaction');
        const { refunded } = ctx.result(refund);
        await store.transition(
          ctx.input.orderId,
          ['CONFIRMED'],
          'CANCELLED',
          ctx.input.reason,
          (order) => {
            const payload: OrderCancelled = { orderId: order.id, userId: order.userId, refunded, reason: ctx.input.reason };
            return [newEnvelope(EVENT_TYPES.OrderCancelled, order.id, payload, clock.now())];
          },
          { tx: ctx.tx },
        );
        return {};
      },
    },
  ]);
}
