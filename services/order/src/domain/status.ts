import { AppError } from '@agora/kernel';
import type { OrderStatus } from '@agora/contracts/order';

/**
 * The order state machine (docs/api.md#checkout-and-orders). Every status change goes through `assertTransition`; the
 * store repeats the from-state in its guarded UPDATE, so a concurrent change loses cleanly.
 *
 *   PENDING ──reserve──▶ RESERVED ──capture──▶ CONFIRMED ──cancel──▶ CANCELLED
 *      │                   │  │  └──cancel──▶ CANCELLED
 *      │ short             │  └──window passed──▶ EXPIRED
 *      ▼                   ▼ declined / provider error
 *   REJECTED          PAYMENT_FAILED
 */
const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  PENDING: ['RESERVED', 'REJECTED', 'CANCELLED'],
  RESERVED: ['CONFIRMED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED'],
  CONFIRMED: ['CANCELLED'],
  REJECTED: [],
  PAYMENT_FAILED: [],
  CANCELLED: [],
  EXPIRED: [],
};

export const TERMINAL_STATUSES: readonly OrderStatus[] = ['CONFIRMED', 'REJECTED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED'];

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(from: OrderStatus, to: OrderStatus): void {
  if (!canTransition(from, to)) throw new AppError('CONFLICT', `an order that is ${from} cannot become ${to}`);
}

export function allowedNext(from: OrderStatus): readonly OrderStatus[] {
  return TRANSITIONS[from];
}

export function isCancellable(status: OrderStatus): boolean {
  return canTransition(status, 'CANCELLED');
}
