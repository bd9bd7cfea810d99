import { describe, expect, it } from 'vitest';
import { AppError, newId, type Money } from '@agora/kernel';
import type { PaymentPort, payment } from '@agora/contracts';
import type { ServiceTransport } from '@agora/platform';
import { Collaborators } from '../src/app/clients.js';
import { checkoutRefundKey, refundCaptured, releaseOrderPayments } from '../src/app/payments.js';

/**
 * A compensation does what the recorded effect needs: an authorization is voided, a capture
 * refunded — never a refund of a charge only authorized, never a void of a captured one. The
 * provider here is a ledger that refuses exactly what the sandbox (and a real provider) refuses.
 */

type Intent = payment.PaymentIntent;

class LedgerPort implements PaymentPort {
  readonly calls: string[] = [];
  /** Runs before a void: lets a test land a capture "meanwhile". */
  beforeVoid: (() => void) | undefined;

  constructor(readonly intents: Intent[]) {}

  authorize(): Promise<Intent> {
    return Promise.reject(new Error('not used'));
  }

  capture(intentId: string): Promise<Intent> {
    const intent = this.find(intentId);
    intent.status = 'CAPTURED';
    intent.capturedAmount = { ...intent.amount };
    return Promise.resolve({ ...intent });
  }

  void(intentId: string, key: string): Promise<Intent> {
    this.beforeVoid?.();
    this.calls.push(`void ${key}`);
    const intent = this.find(intentId);
    if (intent.status === 'CAPTURED') return Promise.reject(new AppError('CONFLICT', `payment ${intentId} is CAPTURED; a captured payment is refunded, not voided`));
    intent.status = 'VOIDED';
    return Promise.resolve({ ...intent });
  }

  refund(intentId: string, amount: Money, key: string): Promise<Intent> {
    this.calls.push(`refund ${amount.amount} ${key}`);
    const intent = this.find(intentId);
    if (intent.status !== 'CAPTURED') return Promise.reject(new AppError('CONFLICT', `payment ${intentId} is ${intent.status}; only a captured payment can be refunded`));
    intent.refundedAmount = { ...amount };
    intent.status = 'REFUNDED';
    return Promise.resolve({ ...intent });
  }

  paymentsOf(): Promise<Intent[]> {
    return Promise.resolve(this.intents.map((intent) => ({ ...intent })));
  }

  private find(id: string): Intent {
    const intent = this.intents.find((candidate) => candidate.id === id);
    if (!intent) throw new AppError('NOT_FOUND', id);
    return intent;
  }
}

function intent(orderId: string, status: Intent['status'], captured = 0): Intent {
  const now = new Date().toISOString();
  return {
    id: newId(),
    orderId,
    userId: newId(),
    amount: { amount: 1200, currency: 'USD' },
    status,
    provider: 'sandbox',
    createdAt: now,
    updatedAt: now,
    capturedAmount: { amount: captured, currency: 'USD' },
    refundedAmount: { amount: 0, currency: 'USD' },
  };
}

const noTransport = {} as ServiceTransport;

describe('releasing an order’s payments', () => {
  it('an authorization is voided, not refunded', async () => {
    const orderId = newId();
    const port = new LedgerPort([intent(orderId, 'AUTHORIZED')]);
    await releaseOrderPayments(new Collaborators(noTransport, { payment: port }), orderId, `${orderId}:authorizePayment`, checkoutRefundKey(orderId));
    expect(port.calls).toEqual([`void ${orderId}:authorizePayment:void:${port.intents[0]?.id}`]);
    expect(port.intents[0]?.status).toBe('VOIDED');
  });

  it('a capture that landed after the capture step gave up is refunded (the void is refused), with the capture compensation’s key', async () => {
    const orderId = newId();
    const port = new LedgerPort([intent(orderId, 'AUTHORIZED')]);
    const id = port.intents[0]?.id ?? '';
    port.beforeVoid = () => void port.capture(id);
    await releaseOrderPayments(new Collaborators(noTransport, { payment: port }), orderId, `${orderId}:authorizePayment`, checkoutRefundKey(orderId));
    expect(port.calls).toEqual([`void ${orderId}:authorizePayment:void:${id}`, `refund 1200 ${orderId}:capturePayment:refund:${id}`]);
    expect(port.intents[0]?.status).toBe('REFUNDED');
  });

  it('the capture step’s compensation refunds only what was captured: an authorization is left for the authorize step to void', async () => {
    const orderId = newId();
    const port = new LedgerPort([intent(orderId, 'AUTHORIZED'), intent(orderId, 'CAPTURED', 1200)]);
    const captured = await refundCaptured(new Collaborators(noTransport, { payment: port }), orderId, checkoutRefundKey(orderId));
    expect(captured).toEqual({ amount: 1200, currency: 'USD' });
    expect(port.calls).toEqual([`refund 1200 ${orderId}:capturePayment:refund:${port.intents[1]?.id}`]);
    expect(port.intents.map((i) => i.status)).toEqual(['AUTHORIZED', 'REFUNDED']);
  });

  it('a conflict that leaves the intent authorized is not swallowed: the saga asks again', async () => {
    const orderId = newId();
    const port = new LedgerPort([intent(orderId, 'AUTHORIZED')]);
    port.void = () => Promise.reject(new AppError('CONFLICT', 'another payment of the order is being captured'));
    await expect(releaseOrderPayments(new Collaborators(noTransport, { payment: port }), orderId, 'k', 'r')).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});
