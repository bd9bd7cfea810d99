import { LIMITS, type Clock, type Money } from '@agora/kernel';
import type { Order, PaymentInput } from '@agora/contracts/order';
import type { OrderStore } from '../../store/order-store.js';
import type { Collaborators } from '../clients.js';
import type { FreshAnswers } from './fresh-answers.js';

/** What a checkout saga is started with (stored as JSON in its log). */
export interface CheckoutInput {
  orderId: string;
  userId: string;
  lines: { sku: string; quantity: number }[];
  total: Money;
  payment: PaymentInput;
  /**
   * The PENDING order exactly as the checkout opened it, so the confirm step builds the confirmed
   * order without reading it back. Absent on sagas begun before it was carried (they read).
   */
  opened?: Order;
}

/** What every checkout step may use. */
export interface CheckoutDeps {
  store: OrderStore;
  services: Collaborators;
  clock: Clock;
  /** Confirmed orders handed from the confirm step to the request that drives the saga. */
  answers: FreshAnswers;
}

/** What the authorizePayment step waits for when the provider answers PENDING. */
export type PaymentSignal =
  | { kind: 'settled'; paymentId: string; status: 'AUTHORIZED' | 'DECLINED' | 'FAILED'; reason?: string }
  | { kind: 'cancel'; reason: string };

export const CHECKOUT_LIMITS = {
  /** Stock held for a checkout; the sweeper returns it if the saga never commits. */
  reservationTtlSeconds: 15 * 60,
  /** How long an asynchronous payment may stay pending before the order expires. */
  paymentWaitMs: 15 * 60 * 1000,
  /**
   * A checkout request answers within this, whatever the load — its own drive or one it joins
   * (a concurrent retry's, a recovery loop's): past it, 202 with the order to poll while the saga
   * goes on. Half the gateway's service-call timeout, so a slow checkout is an answer, never the
   * gateway's timeout (which a client would see as a failure).
   */
  answerWithinMs: Math.floor(LIMITS.serviceCallTimeoutMs / 2),
} as const;
