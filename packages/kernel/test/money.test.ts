import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_MONEY_AMOUNT, MoneyError, add, allocate, format, money, multiply, subtract, sum } from '../src/index.js';

const amount = fc.integer({ min: -1_000_000_000, max: 1_000_000_000 });

describe('Money', () => {
  it('refuses floats, unsafe integers, out-of-range amounts and bad currencies', () => {
    expect(() => money(10.5, 'USD')).toThrow(MoneyError);
    expect(() => money(Number.MAX_SAFE_INTEGER + 1, 'USD')).toThrow(MoneyError);
    expect(() => money(MAX_MONEY_AMOUNT + 1, 'USD')).toThrow(MoneyError);
    expect(() => money(1, 'usd')).toThrow(MoneyError);
    expect(() => money(1, 'US')).toThrow(MoneyError);
  });

  it('never combines currencies', () => {
    expect(() => add(money(1, 'USD'), money(1, 'EUR'))).toThrow(/cannot combine/);
  });

  it('addition is commutative and associative, subtraction undoes it', () => {
    fc.assert(
      fc.property(amount, amount, amount, (a, b, c) => {
        const [ma, mb, mc] = [money(a, 'USD'), money(b, 'USD'), money(c, 'USD')];
        expect(add(ma, mb)).toEqual(add(mb, ma));
        expect(add(add(ma, mb), mc)).toEqual(add(ma, add(mb, mc)));
        expect(subtract(add(ma, mb), mb)).toEqual(ma);
      }),
    );
  });

  it('sum of line totals equals the multiplied unit prices', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 1, max: 99 })), { maxLength: 100 }), (lines) => {
        const total = sum(lines.map(([unit, qty]) => multiply(money(unit, 'EUR'), qty)), 'EUR');
        expect(total.amount).toBe(lines.reduce((acc, [unit, qty]) => acc + unit * qty, 0));
      }),
    );
  });

  it('allocate splits exactly: shares add up and differ by at most one minor unit', () => {
    fc.assert(
      fc.property(amount, fc.integer({ min: 1, max: 50 }), (a, parts) => {
        const shares = allocate(money(a, 'USD'), parts);
        expect(shares).toHaveLength(parts);
        expect(shares.reduce((acc, s) => acc + s.amount, 0)).toBe(a);
        const values = shares.map((s) => s.amount);
        expect(Math.max(...values) - Math.min(...values)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('formats minor units', () => {
    expect(format(money(1999, 'USD'))).toBe('19.99 USD');
    expect(format(money(-5, 'USD'))).toBe('-0.05 USD');
  });
});
