import { AppError, LIMITS, MoneyError, money, multiply, sum, validationError, type Money } from '@agora/kernel';
import type { cart, catalog } from '@agora/contracts';

/** A line as stored: what the user asked for, without prices (prices belong to the catalog). */
export interface CartLine {
  sku: string;
  quantity: number;
}

/** The currency of an empty cart's subtotal. */
export const DEFAULT_CURRENCY = 'USD';

/**
 * The cart as the shopper sees it: stored lines priced with the catalog's current prices. A SKU
 * the catalog no longer sells stays in the cart (it may come back) but is listed under
 * `unavailable`, outside `items`, `subtotal` and `itemCount`; so is a SKU priced in another
 * currency than the cart's (the first priced line's), which a one-currency subtotal cannot hold.
 */
export function priceCart(lines: readonly CartLine[], variants: readonly catalog.SkuVariant[]): cart.Cart {
  const bySku = new Map(variants.map((v) => [v.sku, v]));
  const items: cart.CartItem[] = [];
  const unavailable: cart.Cart['unavailable'] = [];
  let currency: string | undefined;
  try {
    for (const line of lines) {
      const variant = bySku.get(line.sku);
      if (!variant) {
        unavailable.push({ sku: line.sku, quantity: line.quantity, reason: 'NOT_IN_CATALOG' });
        continue;
      }
      currency ??= variant.price.currency;
      if (variant.price.currency !== currency) {
        unavailable.push({ sku: line.sku, quantity: line.quantity, reason: 'OTHER_CURRENCY' });
        continue;
      }
      const unitPrice = money(variant.price.amount, variant.price.currency);
      items.push({
        sku: line.sku,
        productId: variant.productId,
        productName: variant.productName,
        title: variant.title,
        quantity: line.quantity,
        unitPrice,
        lineTotal: multiply(unitPrice, line.quantity),
      });
    }
    const subtotal: Money = sum(
      items.map((i) => i.lineTotal),
      currency ?? DEFAULT_CURRENCY,
    );
    return { items, subtotal, itemCount: items.reduce((n, i) => n + i.quantity, 0), unavailable };
  } catch (err) {
    // Only reachable with prices near the money limit times 99: refuse plainly rather than 500.
    if (err instanceof MoneyError) throw new AppError('CONFLICT', `The cart's total is beyond what one order can hold: ${err.message}`, { cause: err });
    throw err;
  }
}

/** The quantity after adding `adding` to a line holding `current` (0 when absent); throws past the limit. */
export function mergedQuantity(current: number, adding: number): number {
  const merged = current + adding;
  if (merged > LIMITS.cartQuantityMax) {
    throw validationError([
      { path: 'quantity', message: `the cart already holds ${current}; at most ${LIMITS.cartQuantityMax} units of one SKU fit (add at most ${LIMITS.cartQuantityMax - current})` },
    ]);
  }
  return merged;
}

/**
 * A new SKU in a cart that holds the maximum of distinct lines. A 400 naming `sku` (not a 429
 * LIMIT_EXCEEDED, which in Agora means "slow down"): retrying cannot help, removing a line does.
 */
export function tooManyLines(): AppError {
  return validationError([{ path: 'sku', message: `the cart already holds ${LIMITS.cartLinesMax} different SKUs; remove one first` }]);
}

/**
 * The units an order bought per SKU, each SKU once, sorted by SKU (the order the store locks lines
 * in). The store subtracts these from the cart's lines; a line left at 0 or below goes.
 */
export function totalPerSku(bought: readonly CartLine[]): CartLine[] {
  const total = new Map<string, number>();
  for (const b of bought) total.set(b.sku, (total.get(b.sku) ?? 0) + b.quantity);
  return [...total].map(([sku, quantity]) => ({ sku, quantity })).sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
}
