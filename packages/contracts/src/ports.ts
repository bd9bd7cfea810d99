import type { Money } from '@agora/kernel';
import type { AddItemBody, Cart, CartLines, CheckedOutBody, CheckedOutResult } from './cart.js';
import type { ProductQuery, SkuVariant } from './catalog.js';
import type { Ticket } from './flash-sale.js';
import type { Role } from './identity.js';
import type { Availability, Reservation, ReserveBody } from './inventory.js';
import type { CheckoutBody, Order } from './order.js';
import type { AuthorizeBody, PaymentIntent } from './payment.js';

/*
 * Typed ports: what one service asks of another, declared once for every process. Each port has
 * two adapters: over HTTP (`@agora/platform`'s `httpPorts`, the cluster) and in process (the
 * callee's application object, `agora start`). Both answer the DTOs the callee's routes answer and
 * fail with the same AppError codes; only the HTTP adapter validates inputs (at the callee's edge).
 */

/** Reservations of stock, every call idempotent on the reservation id (the order id); stock levels; flash-sale purchases. */
export interface InventoryPort {
  /** Holds stock. OUT_OF_STOCK (extras `skus`), CONFLICT when released/expired, IDEMPOTENCY_MISMATCH for other lines. */
  reserve(body: ReserveBody): Promise<Reservation>;
  /** NOT_FOUND for an unknown id; CONFLICT for a transition the status does not allow; a replay answers the same. */
  commit(reservationId: string): Promise<Reservation>;
  release(reservationId: string): Promise<Reservation>;
  restock(reservationId: string): Promise<Reservation>;
  /** Units available to sell per SKU asked, each once; a SKU without stock recorded answers 0. */
  availability(skus: readonly string[]): Promise<Availability[]>;
  /**
   * A flash-sale purchase by `caller`, idempotent on its key (the same key and quantity answer
   * the same ticket). SOLD_OUT, LIMIT_EXCEEDED, SALE_NOT_ACTIVE, NOT_FOUND, IDEMPOTENCY_MISMATCH.
   */
  purchase(caller: PortCaller, saleId: string, idempotencyKey: string, quantity: number): Promise<Ticket>;
}

/** Who a call is made for (the user the gateway verified): what a port needs of the caller. */
export interface PortCaller {
  userId: string;
  role: Role;
}

/** Payment intents; every state change is idempotent on its key. */
export interface PaymentPort {
  /** A declined or failed authorization is a result (its status), not an error. */
  authorize(body: AuthorizeBody): Promise<PaymentIntent>;
  /** NOT_FOUND for an unknown intent. */
  capture(intentId: string, idempotencyKey: string): Promise<PaymentIntent>;
  void(intentId: string, idempotencyKey: string): Promise<PaymentIntent>;
  refund(intentId: string, amount: Money, idempotencyKey: string): Promise<PaymentIntent>;
  /** Every intent of an order (none: an empty list). */
  paymentsOf(orderId: string): Promise<PaymentIntent[]>;
}

/** Options of a call that carry the request that caused it (for the callee's logs). */
export interface PortCallOptions {
  requestId?: string;
}

/** A user's cart, as the order service and the gateway see it. The user is the caller: UNAUTHENTICATED unless a user id (UUID). */
export interface CartPort {
  /** Adds a SKU to the cart (merged with its line) and answers the priced cart. NOT_FOUND for an unknown SKU, CONFLICT over the limits. */
  add(userId: string, body: AddItemBody, options?: PortCallOptions): Promise<Cart>;
  lines(userId: string, options?: PortCallOptions): Promise<CartLines>;
  /** Removes an order's lines from the cart once per order id (`applied` false on a replay). */
  checkedOut(userId: string, body: CheckedOutBody): Promise<CheckedOutResult>;
}

/**
 * A storefront read as the catalog answers it: JSON text ready to send as it is (a `catalog.Product`,
 * or a `catalog.ProductPage`), and whether every variant in it carries inventory's `available`
 * (false when inventory did not answer: the caller enriches it or serves it degraded).
 */
export interface StorefrontText {
  json: string;
  withAvailability: boolean;
}

/** The catalog's variants by SKU, and the storefront's reads (behind its cache, docs/caching.md). */
export interface CatalogPort {
  /** In the order asked, each once; unknown SKUs are left out. VALIDATION_FAILED for no SKU or a malformed one. */
  variants(skus: readonly string[]): Promise<SkuVariant[]>;
  /** A product as shoppers see it. NOT_FOUND when there is none. */
  storefrontProduct(id: string): Promise<StorefrontText>;
  /** A page of products as shoppers see them. */
  storefrontPage(query: ProductQuery): Promise<StorefrontText>;
}

/** A checkout's answer: 201 with the final order, 202 while its payment is pending. */
export interface CheckoutAnswer {
  status: 201 | 202;
  order: Order;
  /** The answer kept for this Idempotency-Key, given again to a later request. */
  replayed: boolean;
}

/** Checkouts, as the gateway asks for them. */
export interface OrderPort {
  /**
   * Runs `caller`'s checkout behind the order service's admission gate: UNAVAILABLE with a
   * Retry-After when the gate sheds it, before any work. A business outcome is the AppError its
   * problem names (CART_EMPTY, OUT_OF_STOCK, PAYMENT_DECLINED, CONFLICT, IDEMPOTENCY_MISMATCH),
   * also when it is the outcome kept for the key.
   */
  checkout(caller: PortCaller, idempotencyKey: string | undefined, body: CheckoutBody, options?: PortCallOptions): Promise<CheckoutAnswer>;
}

/** The ports, by the name of the service that offers them. */
export interface ServicePorts {
  inventory: InventoryPort;
  payment: PaymentPort;
  cart: CartPort;
  catalog: CatalogPort;
  order: OrderPort;
}

export type PortName = keyof ServicePorts;

export const PORT_NAMES: readonly PortName[] = ['inventory', 'payment', 'cart', 'catalog', 'order'];
