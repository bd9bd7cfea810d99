import { AppError, money, multiply, sum, type Money } from '@agora/kernel';
import type { OrderLine } from '@agora/contracts/order';

export interface PricedItem {
  sku: string;
  title: string;
  quantity: number;
  unitPrice: Money;
}

/**
 * The price snapshot of an order: unit prices as the catalog says at checkout, line totals and the
 * total computed once, here, and stored. One currency per order.
 */
export function priceSnapshot(items: readonly PricedItem[]): { lines: OrderLine[]; total: Money } {
  const first = items[0];
  if (!first) throw new AppError('CART_EMPTY', 'The cart is empty');
  const currency = first.unitPrice.currency;
  const lines = items.map((item) => {
    if (item.unitPrice.currency !== currency) {
      throw new AppError('CONFLICT', `cart mixes ${currency} and ${item.unitPrice.currency}; check out one currency at a time`);
    }
    const unitPrice = money(item.unitPrice.amount, currency);
    return { sku: item.sku, title: item.title, quantity: item.quantity, unitPrice, lineTotal: multiply(unitPrice, item.quantity) };
  });
  return { lines, total: sum(lines.map((l) => l.lineTotal), currency) };
}
