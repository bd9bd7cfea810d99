import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { money } from '@agora/kernel';
import { ORDER_STATUSES, type OrderStatus } from '@agora/contracts/order';
import { allowedNext, assertTransition, canTransition, isCancellable, TERMINAL_STATUSES } from '../src/domain/status.js';
import { priceSnapshot } from '../src/domain/pricing.js';

describe('order state machine', () => {
  it('has no way out of REJECTED, PAYMENT_FAILED, CANCELLED or EXPIRED', () => {
    for (const status of ['REJECTED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED'] as const) expect(allowedNext(status)).toEqual([]);
  });

  it('only confirms a reserved order and only cancels what docs/api.md lets be cancelled', () => {
    expect(ORDER_STATUSES.filter((s) => canTransition(s, 'CONFIRMED'))).toEqual(['RESERVED']);
    expect(isCancellable('CONFIRMED')).toBe(true);
    expect(isCancellable('REJECTED')).toBe(false);
    expect(() => assertTransition('CONFIRMED', 'RESERVED')).toThrow(/cannot become RESERVED/);
  });

  it('any walk of legal transitions from PENDING is short and ends where a terminal status allows', () => {
    const status = fc.constantFrom(...ORDER_STATUSES);
    fc.assert(
      fc.property(fc.array(status, { maxLength: 20 }), (attempts) => {
        let current: OrderStatus = 'PENDING';
        const path: OrderStatus[] = [current];
        for (const next of attempts) {
          if (canTransition(current, next)) {
            current = next;
            path.push(current);
          }
        }
        // No status is entered twice: the machine has no cycles.
        expect(new Set(path).size).toBe(path.length);
        expect(path.length).toBeLessThanOrEqual(4);
        if (path.length > 1) expect(TERMINAL_STATUSES.includes(current) || current === 'RESERVED').toBe(true);
      }),
    );
  });
});

describe('price snapshot', () => {
  it('computes line totals and the total once, in integer minor units', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 1, max: 99 })), { minLength: 1, maxLength: 100 }), (rows) => {
        const snapshot = priceSnapshot(rows.map(([amount, quantity], i) => ({ sku: `S-${i}`, title: 't', quantity, unitPrice: money(amount, 'USD') })));
        expect(snapshot.total.amount).toBe(rows.reduce((acc, [a, q]) => acc + a * q, 0));
        snapshot.lines.forEach((line, i) => expect(line.lineTotal.amount).toBe((rows[i]?.[0] ?? 0) * (rows[i]?.[1] ?? 0)));
      }),
    );
  });

  it('refuses an empty cart and mixed currencies', () => {
    expect(() => priceSnapshot([])).toThrow(/empty/);
    expect(() =>
      priceSnapshot([
        { sku: 'a', title: 'a', quantity: 1, unitPrice: money(1, 'USD') },
        { sku: 'b', title: 'b', quantity: 1, unitPrice: money(1, 'EUR') },
      ]),
    ).toThrow(/mixes/);
  });
});
