import { api } from './api';
import { announce } from './announce';
import { sessionStore } from './session';
import { Store, useStore } from './store';
import type { Cart } from './types';

/** The signed-in shopper's cart, shared by the header badge and the cart page. */
export const cartStore = new Store<Cart | null>(null);

export function useCart(): Cart | null {
  return useStore(cartStore);
}

export async function refreshCart(): Promise<Cart | null> {
  if (!sessionStore.get()) {
    cartStore.set(null);
    return null;
  }
  const cart = await api.get<Cart>('/api/v1/cart');
  cartStore.set(cart);
  return cart;
}

export async function addToCart(sku: string, quantity: number, label: string): Promise<Cart> {
  const { body } = await api.post<Cart>('/api/v1/cart/items', { sku, quantity });
  cartStore.set(body);
  announce(`Added ${quantity} × ${label} to your cart. ${itemsText(body.itemCount)} in cart.`);
  return body;
}

export async function setCartQuantity(sku: string, quantity: number, label: string): Promise<Cart> {
  const cart = await api.patch<Cart>(`/api/v1/cart/items/${encodeURIComponent(sku)}`, { quantity });
  cartStore.set(cart);
  announce(quantity === 0 ? `Removed ${label}.` : `${label}: quantity ${quantity}. Subtotal updated.`);
  return cart;
}

export async function removeFromCart(sku: string, label: string): Promise<Cart> {
  const cart = await api.delete<Cart>(`/api/v1/cart/items/${encodeURIComponent(sku)}`);
  cartStore.set(cart);
  announce(`Removed ${label} from your cart.`);
  return cart;
}

export function itemsText(count: number): string {
  return `${count} ${count === 1 ? 'item' : 'items'}`;
}

sessionStore.subscribe(() => {
  if (!sessionStore.get()) cartStore.set(null);
});

/**
 * Puts an order's lines back in the cart where it holds fewer (a failed order's retry): lines the
 * shopper has since added or raised stay as they are.
 */
export async function restoreLines(lines: readonly { sku: string; quantity: number }[]): Promise<Cart | null> {
  const cart = await refreshCart();
  if (!cart) return null;
  const held = new Map(cart.items.map((line) => [line.sku, line.quantity]));
  let latest: Cart = cart;
  for (const line of lines) {
    const quantity = held.get(line.sku) ?? 0;
    if (quantity >= line.quantity) continue;
    latest = quantity === 0 ? (await api.post<Cart>('/api/v1/cart/items', { sku: line.sku, quantity: line.quantity })).body : await api.patch<Cart>(`/api/v1/cart/items/${encodeURIComponent(line.sku)}`, { quantity: line.quantity });
  }
  cartStore.set(latest);
  return latest;
}
