/**
 * The public API's bodies, as the services and the gateway's OpenAPI document define them
 * (@agora/contracts). Imported as types only: nothing of the contracts (or of typebox) reaches
 * the bundle.
 */
import type { MoneyDto, Page as ContractPage, cart, catalog, identity, inventory, order } from '@agora/contracts';

export type Money = MoneyDto;
export type User = identity.User;
export type Session = identity.AuthResult;
export type Product = catalog.Product;
export type Page<T> = ContractPage<T>;
export type CategorySummary = catalog.CategorySummary;
export type CartLine = cart.CartItem;
export type Cart = cart.Cart;

export type OrderStatus = order.OrderStatus;
/** The statuses in lifecycle order (the admin's filter); a value, so kept here and checked against the contract. */
export const ORDER_STATUSES = ['PENDING', 'RESERVED', 'CONFIRMED', 'REJECTED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED'] as const satisfies readonly OrderStatus[];
/** Fails to compile when the contract gains a status this list lacks. */
const everyStatusListed: [Exclude<OrderStatus, (typeof ORDER_STATUSES)[number]>] extends [never] ? true : never = true;
void everyStatusListed;

export type Address = order.ShippingAddress;
export type Order = order.Order;
export type StockLevel = inventory.StockLevel;

/** Statuses an order can still leave; the order page keeps polling while it is in one. */
export const IN_PROGRESS: ReadonlySet<OrderStatus> = new Set(['PENDING', 'RESERVED']);
/** Statuses a shopper may cancel from (the API answers 409 otherwise). */
export const CANCELLABLE: ReadonlySet<OrderStatus> = new Set(['PENDING', 'RESERVED', 'CONFIRMED']);
