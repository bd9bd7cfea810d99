import { newId } from '@agora/kernel';
import type { EventEnvelope, OrderConfirmed } from '@agora/contracts/events';
import type { Order } from '@agora/contracts/order';

/** The envelope of a fact the order service publishes through its outbox. */
export function event<T>(type: string, key: string, payload: T, at: Date): EventEnvelope {
  return { id: newId(), type, key, occurredAt: at.toISOString(), payload };
}

export function orderConfirmed(order: Order): OrderConfirmed {
  return {
    orderId: order.id,
    userId: order.userId,
    total: order.total,
    lines: order.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPrice: l.unitPrice })),
  };
}
