import { ApiError, api } from './api';

/**
 * Units of each SKU that can be bought now (GET /api/v1/inventory/:sku, one read per SKU: a cart
 * holds a handful). A SKU with no stock kept is 0 available.
 */
export async function availabilityOf(skus: readonly string[], signal?: AbortSignal): Promise<Map<string, number>> {
  const entries = await Promise.all(
    [...new Set(skus)].map(async (sku): Promise<[string, number]> => {
      try {
        const level = await api.get<{ sku: string; available: number }>(`/api/v1/inventory/${encodeURIComponent(sku)}`, signal ? { signal } : {});
        return [sku, level.available];
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return [sku, 0];
        throw err;
      }
    }),
  );
  return new Map(entries);
}

/** The most of one item a cart line may hold (the cart's own limit, LIMITS.cartQuantityMax). */
export const MAX_QUANTITY = 99;

/** Why `quantity` cannot be saved for a line, or undefined when it can. */
export function quantityProblem(text: string, available: number | undefined): string | undefined {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 0) return 'Enter a whole number (0 removes the item).';
  if (n > MAX_QUANTITY) return `You can buy at most ${MAX_QUANTITY} of one item.`;
  if (available !== undefined && n > available) return available <= 0 ? 'Out of stock now: remove it to check out.' : `Only ${available} available: lower the quantity to check out.`;
  return undefined;
}
