import type { Order } from './types';

/**
 * The order a checkout has just answered with, handed to its order page. An asynchronous payment
 * settles in a fraction of a second, often before that page would have loaded the order: shown
 * from here at once, the shopper sees it waiting for payment, then see it settle.
 */
const placed = new Map<string, Order>();

export function rememberPlacedOrder(order: Order): void {
  placed.clear(); // only the latest checkout is ever asked for
  placed.set(order.id, order);
}

export function placedOrder(id: string): Order | undefined {
  return placed.get(id);
}
