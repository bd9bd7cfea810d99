import { sql } from 'drizzle-orm';
import { flashSale } from '@agora/contracts';
import type { Order } from '@agora/contracts/order';
import type { EventEnvelope } from '@agora/contracts/events';
import type { OrderShard } from '../orders.js';
import { newEnvelope } from '@agora/platform';

/** What a flash-sale order keeps where a checkout keeps its request's hash (there is no request to compare). */
export const FLASH_SALE_REQUEST_HASH = 'flash-sale';

export const FLASH_ORDER_DEFAULTS = {
  /** How long a buyer has to pay a flash-sale order once it is opened (AGORA_FLASH_SALE_PAYMENT_WINDOW_MS). */
  paymentWindowMs: 10 * 60_000,
  /** How often each instance looks for flash-sale orders left unpaid (AGORA_FLASH_SALE_SWEEP_MS). */
  sweepIntervalMs: 5_000,
} as const;

/**
 * How long after its window an unpaid order is expired: a payment that started just inside the
 * window (its calls bounded by the write timeout, 10 s) lands first. Never more than the window.
 */
export const EXPIRY_GRACE_MAX_MS = 30_000;

export function expiryGraceMs(paymentWindowMs: number): number {
  return Math.min(EXPIRY_GRACE_MAX_MS, paymentWindowMs);
}

/** A flash-sale order's sale and ticket, and its payment deadline (absent on orders opened before deadlines were kept). */
export interface FlashSaleOrder {
  saleId: string;
  ticketId: string;
  payBy: Date | undefined;
}

/** The sale and ticket of an order that came from a flash sale; undefined for any other order. */
export async function flashSaleOf(shard: OrderShard, orderId: string): Promise<FlashSaleOrder | undefined> {
  const [row] = await shard.storage.query<{ idempotency_key: string; pay_by: string | Date | null }>(
    sql`select idempotency_key, pay_by from orders.orders where id = ${orderId}::uuid`,
  );
  const sale = row ? flashSale.parseFlashSaleOrderKey(row.idempotency_key) : undefined;
  return row && sale ? { ...sale, payBy: row.pay_by === null ? undefined : new Date(row.pay_by) } : undefined;
}

/** When a flash-sale order's payment is due: the deadline it was opened with, else `defaultWindowMs` after it opened. */
export function paymentDeadline(order: { createdAt: string }, sale: FlashSaleOrder, defaultWindowMs: number): Date {
  return sale.payBy ?? new Date(new Date(order.createdAt).getTime() + defaultWindowMs);
}

/** The fact that gives an unpaid order's units back to its sale, written with the order's final status. */
export function releasedEvents(saleId: string, reason: string, at: Date): (order: Order) => EventEnvelope[] {
  return (order) => {
    const payload: flashSale.OrderReleased = {
      ticketId: order.id,
      saleId,
      userId: order.userId,
      quantity: order.lines.reduce((sum, line) => sum + line.quantity, 0),
      reason,
    };
    return [newEnvelope(flashSale.FLASH_SALE_EVENT_TYPES.OrderReleased, order.id, payload, at)];
  };
}
