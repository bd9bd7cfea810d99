import { AppError, LIMITS, isAppError, type Clock, type Money } from '@agora/kernel';
import { EVENT_TYPES, type EventEnvelope, type OrderConfirmed } from '@agora/contracts/events';
import type { Order, OrderLine, OrderStatus, PaymentInput } from '@agora/contracts/order';
import { defineSaga, type SagaFailure, type SagaDefinition } from '@agora/platform';
import { newId } from '@agora/kernel';
import type { OrderStore } from '../store/order-store.js';
import type { Collaborators } from './clients.js';

export interface CheckoutInput {
  orderId: string;
  userId: string;
  lines: { sku: string; quantity: number }[];
  total: Money;
  payment: PaymentInput;
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
  /** How long a checkout request waits for another driver of its saga (a recovery loop) before answering 202. */
  otherDriverWaitMs: LIMITS.serviceCallTimeoutMs,
} as const;

export function event<T>(type: string, key: string, payload: T, at: Date): EventEnvelope {
  return { id: newId(), type, key, occurredAt: at.toISOString(), payload };
}

/** The terminal status a failed checkout leaves its order in. */
export function failedStatus(failure: SagaFailure | undefined): { status: OrderStatus; reason: string } {
  if (!failure) return { status: 'REJECTED', reason: 'checkout failed' };
  if (failure.kind === 'timeout') return { status: 'EXPIRED', reason: 'payment was not completed in time' };
  if (failure.kind === 'aborted') {
    if (failure.reason === 'OUT_OF_STOCK') return { status: 'REJECTED', reason: 'out of stock' };
    if (failure.reason === 'CANCELLED') return { status: 'CANCELLED', reason: 'cancelled by the shopper' };
    return { status: 'PAYMENT_FAILED', reason: failure.reason === 'PAYMENT_DECLINED' ? declineReason(failure.data) : failure.reason };
  }
  if (failure.step === 'reserveStock') return { status: 'REJECTED', reason: `inventory unavailable: ${failure.message}` };
  return { status: 'PAYMENT_FAILED', reason: `payment could not be completed: ${failure.message}` };
}

function declineReason(data: unknown): string {
  const code = typeof data === 'object' && data !== null && 'declineCode' in data ? String((data as { declineCode: unknown }).declineCode) : undefined;
  return code ? `payment declined (${code})` : 'payment declined';
}

function intentIdOf(result: unknown): string | undefined {
  return typeof result === 'object' && result !== null && 'intentId' in result && typeof (result as { intentId: unknown }).intentId === 'string'
    ? (result as { intentId: string }).intentId
    : undefined;
}

function orderConfirmed(order: Order): OrderConfirmed {
  return {
    orderId: order.id,
    userId: order.userId,
    total: order.total,
    lines: order.lines.map((l: OrderLine) => ({ sku: l.sku, quantity: l.quantity, unitPrice: l.unitPrice })),
  };
}

/** Voids every authorization of the order that still holds money (AUTHORIZED or PENDING), idempotently. */
async function voidHeldPayments(services: Collaborators, orderId: string, idempotencyKey: string): Promise<void> {
  for (const intent of await services.paymentsOf(orderId)) {
    if (intent.status === 'AUTHORIZED' || intent.status === 'PENDING') await services.voidPayment(intent.id, `${idempotencyKey}:void:${intent.id}`);
  }
}

/**
 * Checkout as a durable saga (DESIGN.md section 2). Each step is idempotent on its key (the order
 * id for inventory, `<saga>:<step>` for payment), sits beside its compensation, and is logged
 * before and after it runs, so a process killed anywhere resumes or compensates on restart.
 */
export function checkoutSaga(store: OrderStore, services: Collaborators, clock: Clock): SagaDefinition<CheckoutInput> {
  return defineSaga<CheckoutInput>(
    'checkout',
    [
      {
        // Runs first, compensates last: whatever failed, the order ends in its terminal status.
        name: 'open',
        run: async () => ({}),
        compensate: async (ctx) => {
          const { status, reason } = failedStatus(ctx.failure);
          await store.transition(ctx.input.orderId, ['PENDING', 'RESERVED'], status, reason);
        },
      },
      {
        name: 'reserveStock',
        run: async (ctx) => {
          try {
            await services.reserve({ reservationId: ctx.input.orderId, lines: ctx.input.lines, ttlSeconds: CHECKOUT_LIMITS.reservationTtlSeconds });
          } catch (err) {
            if (isAppError(err) && err.code === 'OUT_OF_STOCK') ctx.abort('OUT_OF_STOCK', { skus: err.extras?.skus, errors: err.errors });
            // A reservation the sweeper expired (or a compensation released) is gone: the checkout cannot hold stock.
            if (isAppError(err) && err.code === 'CONFLICT') ctx.abort('OUT_OF_STOCK', { detail: err.message });
            throw err;
          }
          await store.transition(ctx.input.orderId, ['PENDING'], 'RESERVED', 'stock reserved');
          return { reserved: true };
        },
        compensate: async (ctx) => {
          try {
            await services.releaseReservation(ctx.input.orderId);
          } catch (err) {
            // Committed (and then restocked by the later compensation) is not ours to release.
            if (!(isAppError(err) && err.code === 'CONFLICT')) throw err;
          }
        },
      },
      {
        name: 'authorizePayment',
        run: async (ctx) => {
          const intent = await services.authorize({
            orderId: ctx.input.orderId,
            userId: ctx.input.userId,
            amount: ctx.input.total,
            token: ctx.input.payment.token,
            idempotencyKey: ctx.idempotencyKey,
          });
          if (intent.status === 'AUTHORIZED' || intent.status === 'CAPTURED') return { intentId: intent.id };
          if (intent.status === 'PENDING') return ctx.wait({ until: new Date(clock.now().getTime() + CHECKOUT_LIMITS.paymentWaitMs), data: { intentId: intent.id } });
          return ctx.abort('PAYMENT_DECLINED', { intentId: intent.id, declineCode: intent.declineCode ?? intent.status.toLowerCase() });
        },
        onSignal: async (ctx) => {
          const signal = ctx.signal as PaymentSignal;
          if (signal.kind === 'cancel') {
            // An abort is not compensated ("nothing of mine is held"), but the pending authorization
            // is held: release it first, or a late approval would keep the shopper's money on hold.
            await voidHeldPayments(services, ctx.input.orderId, ctx.idempotencyKey);
            return ctx.abort('CANCELLED', { reason: signal.reason });
          }
          if (signal.status === 'AUTHORIZED') return { intentId: signal.paymentId };
          return ctx.abort('PAYMENT_DECLINED', { intentId: signal.paymentId, declineCode: signal.reason ?? signal.status.toLowerCase() });
        },
        // Void whatever this order still holds with the provider (also an intent whose answer we never saw).
        compensate: (ctx) => voidHeldPayments(services, ctx.input.orderId, ctx.idempotencyKey),
      },
      {
        name: 'commitStock',
        run: async (ctx) => {
          await services.commitReservation(ctx.input.orderId);
          return { committed: true };
        },
        compensate: async (ctx) => {
          try {
            await services.restockReservation(ctx.input.orderId);
          } catch (err) {
            // Never committed (HELD/RELEASED): the reservation step's compensation releases it.
            if (!(isAppError(err) && (err.code === 'CONFLICT' || err.code === 'NOT_FOUND'))) throw err;
          }
        },
      },
      {
        name: 'capturePayment',
        run: async (ctx) => {
          const intentId = intentIdOf(ctx.result('authorizePayment'));
          if (!intentId) throw new AppError('INTERNAL', 'authorizePayment left no intent id');
          const intent = await services.capture(intentId, ctx.idempotencyKey);
          return { intentId, captured: intent.capturedAmount };
        },
        compensate: async (ctx) => {
          for (const intent of await services.paymentsOf(ctx.input.orderId)) {
            const refundable = intent.capturedAmount.amount - intent.refundedAmount.amount;
            if (refundable > 0) await services.refund(intent.id, { amount: refundable, currency: intent.amount.currency }, `${ctx.idempotencyKey}:refund:${intent.id}`);
          }
        },
      },
      {
        name: 'confirm',
        run: async (ctx) => {
          await store.transition(ctx.input.orderId, ['RESERVED'], 'CONFIRMED', 'paid', (order) => [
            event(EVENT_TYPES.OrderConfirmed, order.id, orderConfirmed(order), clock.now()),
          ]);
          return { confirmed: true };
        },
      },
    ],
    {
      onFinished: async (_ctx, outcome) => {
        if (outcome.status !== 'COMPLETED') return;
        // The checked-out quantities leave the cart once per order; lines added meanwhile stay.
        await services.checkedOut(outcome.input.userId, { orderId: outcome.input.orderId, lines: outcome.input.lines });
      },
    },
  );
}
