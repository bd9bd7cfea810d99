import { describe, expect, it } from 'vitest';
import { AppError, MAX_MONEY_AMOUNT } from '@agora/kernel';
import type { catalog } from '@agora/contracts';
import { mergedQuantity, priceCart, totalPerSku } from '../src/domain/cart.js';

const variant = (sku: string, amount: number, currency = 'USD'): catalog.SkuVariant => ({
  sku,
  productId: '01900000-0000-7000-8000-0000000000aa',
  productName: `Product ${sku}`,
  title: `Variant ${sku}`,
  price: { amount, currency },
});

describe('cart rules', () => {
  it('prices lines in integer minor units and keeps unpriceable lines aside', () => {
    const cart = priceCart(
      [
        { sku: 'A', quantity: 3 },
        { sku: 'GONE', quantity: 1 },
        { sku: 'EUR', quantity: 2 },
        { sku: 'B', quantity: 1 },
      ],
      [variant('A', 333), variant('B', 1), variant('EUR', 500, 'EUR')],
    );
    expect(cart.items.map((i) => [i.sku, i.lineTotal.amount])).toEqual([
      ['A', 999],
      ['B', 1],
    ]);
    expect(cart.subtotal).toEqual({ amount: 1000, currency: 'USD' });
    expect(cart.itemCount).toBe(4);
    expect(cart.unavailable).toEqual([
      { sku: 'GONE', quantity: 1, reason: 'NOT_IN_CATALOG' },
      { sku: 'EUR', quantity: 2, reason: 'OTHER_CURRENCY' },
    ]);
  });

  it('takes the currency of the first priced line, USD when empty', () => {
    expect(priceCart([{ sku: 'E', quantity: 1 }], [variant('E', 5, 'EUR')]).subtotal).toEqual({ amount: 5, currency: 'EUR' });
    expect(priceCart([], []).subtotal).toEqual({ amount: 0, currency: 'USD' });
  });

  it('refuses a total beyond the money limit with a 409, not a 500', () => {
    const overflow = (): unknown => priceCart([{ sku: 'X', quantity: 99 }], [variant('X', MAX_MONEY_AMOUNT)]);
    expect(overflow).toThrow(AppError);
    expect(overflow).toThrow(expect.objectContaining({ status: 409, code: 'CONFLICT' }));
  });

  it('merges up to 99 and names quantity past it', () => {
    expect(mergedQuantity(90, 9)).toBe(99);
    expect(() => mergedQuantity(90, 10)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ path: 'quantity' })] }));
  });

  it('totals bought units per SKU, each SKU once, sorted by SKU', () => {
    expect(
      totalPerSku([
        { sku: 'B', quantity: 5 },
        { sku: 'A', quantity: 1 },
        { sku: 'B', quantity: 2 },
      ]),
    ).toEqual([
      { sku: 'A', quantity: 1 },
      { sku: 'B', quantity: 7 },
    ]);
    expect(totalPerSku([])).toEqual([]);
  });
});
