import type { OrderConfirmed } from '@agora/contracts/events';
import type { Order } from '@agora/contracts/order';

export function orderConfirmed(order: Order): OrderConfirmed {
  return {
    orderId: order.id,
    userId: order.userId,
    total: order.total,
    lines: order.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPrice: l.unitPrice })),
  };
}
