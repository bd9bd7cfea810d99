import { formatPaymentWindow } from './flash-sale';
import { formatDateTime, formatTime } from './format';
import type { Order } from './types';

/**
 * A flash-sale order's payment window (`payBy` on the order, docs/flash-sales.md): RESERVED
 * orders with a deadline wait for the shopper to pay (POST /api/v1/orders/:id/pay) by then, or
 * expire. Checkout orders carry no `payBy`: their payment came with them.
 */
export type AwaitingPayment = Order & { payBy: string };

export function awaitsPayment(order: Order): order is AwaitingPayment {
  return order.status === 'RESERVED' && order.payBy !== undefined;
}

/** Milliseconds left to pay at `now`; 0 or less once the window closed. */
export function msLeft(order: AwaitingPayment, now: number): number {
  return new Date(order.payBy).getTime() - now;
}

/** The deadline as a person reads it: the time alone today, the date too otherwise (windows last up to a week). */
export function formatDeadline(payBy: string, now: number): string {
  const at = new Date(payBy);
  if (Number.isNaN(at.getTime())) return payBy;
  return at.toDateString() === new Date(now).toDateString() ? formatTime(at.getTime()) : formatDateTime(payBy);
}

/** "14 min 32 s left", "less than a second left". */
export function formatLeft(ms: number): string {
  const seconds = Math.floor(ms / 1_000);
  return seconds < 1 ? 'less than a second left' : `${formatPaymentWindow(seconds)} left`;
}
