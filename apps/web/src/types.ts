/** The public API's bodies (the published OpenAPI document, /api/openapi.json), as the web app reads them. */

export interface Money {
  amount: number;
  currency: string;
}

export type Role = 'customer' | 'admin';

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
}

export interface Session {
  user: User;
  token: string;
}

export interface Variant {
  sku: string;
  title: string;
  price: Money;
  available: number;
}

export interface Product {
  id: string;
  name: string;
  description: string;
  category: string;
  variants: Variant[];
  createdAt?: string;
  updatedAt?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface CategorySummary {
  category: string;
  productCount: number;
}

export interface CartLine {
  sku: string;
  productId: string;
  productName?: string;
  title: string;
  quantity: number;
  unitPrice: Money;
  lineTotal: Money;
}

export interface Cart {
  items: CartLine[];
  subtotal: Money;
  itemCount: number;
  /** Lines that cannot be priced now (not in the catalog, or in another currency): outside `items`. */
  unavailable?: { sku: string; quantity: number; reason: string }[];
}

export const ORDER_STATUSES = ['PENDING', 'RESERVED', 'CONFIRMED', 'REJECTED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export interface OrderLine {
  sku: string;
  title: string;
  quantity: number;
  unitPrice: Money;
  lineTotal: Money;
}

export interface OrderEvent {
  status: OrderStatus;
  at: string;
  reason?: string;
}

export interface Address {
  name: string;
  line1: string;
  city: string;
  postalCode: string;
  country: string;
}

export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  lines: OrderLine[];
  total: Money;
  createdAt: string;
  updatedAt?: string;
  history: OrderEvent[];
  shippingAddress?: Address;
}

export interface StockLevel {
  sku: string;
  onHand: number;
  reserved: number;
  available: number;
}

/** Statuses an order can still leave; the order page keeps polling while it is in one. */
export const IN_PROGRESS: ReadonlySet<OrderStatus> = new Set(['PENDING', 'RESERVED']);
/** Statuses a shopper may cancel from (the API answers 409 otherwise). */
export const CANCELLABLE: ReadonlySet<OrderStatus> = new Set(['PENDING', 'RESERVED', 'CONFIRMED']);
