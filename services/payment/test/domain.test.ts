import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AppError } from '@agora/kernel';
import {
  PAYMENT_STATUSES,
  assertRefundable,
  canTransition,
  decideCapture,
  decideVoid,
  intentViolations,
  type IntentState,
  type PaymentStatus,
} from '../src/domain/intent.js';
import { decideSettlement } from '../src/domain/settlement.js';
import { computeSignature, parseSignatureHeader, signatureHeader, verifySignature } from '../src/domain/signature.js';

const intent = (status: PaymentStatus, overrides: Partial<IntentState> = {}): IntentState => ({
  id: 'p1',
  status,
  amount: { amount: 1000, currency: 'USD' },
  capturedAmount: status === 'CAPTURED' || status === 'REFUNDED' ? 1000 : 0,
  refundedAmount: status === 'REFUNDED' ? 1000 : 0,
  refundReserved: status === 'REFUNDED' ? 1000 : 0,
  providerRef: status === 'PENDING' ? undefined : 'ref',
  ...overrides,
});

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof AppError ? err.code : 'not an AppError';
  }
};

describe('intent rules', () => {
  it('allows only the documented transitions; final states go nowhere', () => {
    expect(canTransition('PENDING', 'AUTHORIZED')).toBe(true);
    expect(canTransition('AUTHORIZED', 'CAPTURED')).toBe(true);
    expect(canTransition('CAPTURED', 'REFUNDED')).toBe(true);
    expect(canTransition('CAPTURED', 'VOIDED')).toBe(false);
    expect(canTransition('DECLINED', 'AUTHORIZED')).toBe(false);
    for (const final of ['DECLINED', 'FAILED', 'VOIDED', 'REFUNDED'] as const) {
      for (const to of PAYMENT_STATUSES) expect(canTransition(final, to)).toBe(false);
    }
  });

  it('captures only an authorization; a captured one is a no-op; the rest conflict', () => {
    expect(decideCapture(intent('AUTHORIZED'))).toBe('capture');
    expect(decideCapture(intent('CAPTURED'))).toBe('already-captured');
    expect(decideCapture(intent('REFUNDED'))).toBe('already-captured');
    for (const status of ['PENDING', 'DECLINED', 'FAILED', 'VOIDED'] as const) expect(codeOf(() => decideCapture(intent(status)))).toBe('CONFLICT');
  });

  it('voids authorizations and pending ones; nothing held otherwise; captured conflicts', () => {
    expect(decideVoid(intent('AUTHORIZED'))).toBe('release-at-provider');
    expect(decideVoid(intent('PENDING'))).toBe('release-locally');
    expect(decideVoid(intent('PENDING', { providerRef: 'r' }))).toBe('release-at-provider');
    expect(decideVoid(intent('DECLINED'))).toBe('nothing-held');
    expect(decideVoid(intent('VOIDED'))).toBe('nothing-held');
    expect(codeOf(() => decideVoid(intent('CAPTURED')))).toBe('CONFLICT');
  });

  it('refunds within what is left, in the same currency, of captured payments only', () => {
    expect(codeOf(() => assertRefundable(intent('CAPTURED'), { amount: 1000, currency: 'USD' }))).toBeUndefined();
    expect(codeOf(() => assertRefundable(intent('CAPTURED', { refundReserved: 600 }), { amount: 401, currency: 'USD' }))).toBe('CONFLICT');
    expect(codeOf(() => assertRefundable(intent('CAPTURED'), { amount: 1, currency: 'EUR' }))).toBe('VALIDATION_FAILED');
    expect(codeOf(() => assertRefundable(intent('CAPTURED'), { amount: 0, currency: 'USD' }))).toBe('VALIDATION_FAILED');
    expect(codeOf(() => assertRefundable(intent('AUTHORIZED'), { amount: 1, currency: 'USD' }))).toBe('CONFLICT');
  });

  it('a sequence of accepted refunds never breaks the ledger invariant', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.array(fc.integer({ min: 1, max: 1_000_000 }), { maxLength: 30 }), (captured, requests) => {
        const state = intent('CAPTURED', { amount: { amount: captured, currency: 'USD' }, capturedAmount: captured });
        for (const amount of requests) {
          if (codeOf(() => assertRefundable(state, { amount, currency: 'USD' })) !== undefined) continue;
          state.refundReserved += amount;
          state.refundedAmount += amount;
          if (state.refundedAmount === state.capturedAmount) state.status = 'REFUNDED';
          expect(intentViolations(state)).toEqual([]);
        }
        expect(state.refundedAmount).toBeLessThanOrEqual(captured);
      }),
    );
  });

  it('reports a broken ledger', () => {
    expect(intentViolations(intent('CAPTURED', { refundedAmount: 2000, refundReserved: 2000 }))).not.toEqual([]);
    expect(intentViolations(intent('AUTHORIZED', { capturedAmount: 5 }))).not.toEqual([]);
  });
});

describe('settlement decisions', () => {
  const event = { id: 'e', type: 'payment.authorized' as const, paymentId: 'p1', providerRef: 'ref' };
  it('settles a pending intent, whether or not we know its reference yet', () => {
    expect(decideSettlement({ status: 'PENDING', providerRef: undefined }, event)).toEqual({ apply: true, status: 'AUTHORIZED', declineCode: undefined });
    expect(decideSettlement({ status: 'PENDING', providerRef: 'ref' }, { ...event, type: 'payment.declined' })).toEqual({
      apply: true,
      status: 'DECLINED',
      declineCode: 'card_declined',
    });
    expect(decideSettlement({ status: 'PENDING', providerRef: 'ref' }, { ...event, type: 'payment.failed' })).toMatchObject({ status: 'FAILED', declineCode: 'provider_error' });
  });
  it('ignores unknown, final and foreign-reference events', () => {
    expect(decideSettlement(undefined, event)).toEqual({ apply: false, reason: 'unknown_payment' });
    expect(decideSettlement({ status: 'AUTHORIZED', providerRef: 'ref' }, event)).toEqual({ apply: false, reason: 'already_final' });
    expect(decideSettlement({ status: 'PENDING', providerRef: 'other' }, event)).toEqual({ apply: false, reason: 'provider_ref_mismatch' });
  });
});

describe('webhook signatures', () => {
  const secret = 'whsec_test_0123456789abcdef';
  const now = new Date('2026-01-01T00:00:00Z');
  const t = Math.floor(now.getTime() / 1000);

  it('computes HMAC-SHA256 of "<t>.<body>" in hex (a known vector)', () => {
    // echo -n '1767225600.{"a":1}' | openssl dgst -sha256 -hmac 'whsec_test_0123456789abcdef'
    expect(computeSignature(secret, t, '{"a":1}')).toBe('edbeb20e4a41fbcaa5a2a66d054bb581bfed45895f72f7793f8afca061c088ec');
  });

  it('verifies what it signed and refuses tampering, other secrets, staleness and malformed headers', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: -300, max: 300 }), (body, skew) => {
        const header = signatureHeader(secret, t + skew, body);
        expect(verifySignature(secret, header, body, now)).toEqual({ ok: true });
        expect(verifySignature(secret, header, `${body} `, now).ok).toBe(false);
        expect(verifySignature(`${secret}x`, header, body, now).ok).toBe(false);
      }),
    );
    const body = '{"id":"e"}';
    expect(verifySignature(secret, signatureHeader(secret, t - 301, body), body, now)).toEqual({ ok: false, reason: 'signature timestamp is outside the tolerance window' });
    expect(verifySignature(secret, undefined, body, now).ok).toBe(false);
    expect(verifySignature(secret, 't=abc,v1=00', body, now).ok).toBe(false);
    expect(parseSignatureHeader(`t=${t},v1=${'a'.repeat(64)},v1=${'b'.repeat(64)}`)?.signatures).toHaveLength(2);
    expect(parseSignatureHeader(`v1=${'a'.repeat(64)}`)).toBeUndefined();
  });
});
