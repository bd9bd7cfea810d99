import { Type, type Static } from 'typebox';
import { LIMITS } from '@agora/kernel';
import { MoneySchema, PageQuery, Timestamp, Uuid, pageOf } from './common.js';
import { LowStock } from './inventory.js';

export const ORDER_STATUSES = ['PENDING', 'RESERVED', 'CONFIRMED', 'REJECTED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED'] as const;
export const OrderStatus = Type.Union([
  Type.Literal('PENDING'),
  Type.Literal('RESERVED'),
  Type.Literal('CONFIRMED'),
  Type.Literal('REJECTED'),
  Type.Literal('PAYMENT_FAILED'),
  Type.Literal('CANCELLED'),
  Type.Literal('EXPIRED'),
]);
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const PaymentInput = Type.Object({
  method: Type.Literal('card'),
  token: Type.String({ minLength: 1, maxLength: 128, description: 'sandbox: tok_visa, tok_declined, tok_insufficient_funds, tok_error, tok_async' }),
});
export type PaymentInput = Static<typeof PaymentInput>;

export const ShippingAddress = Type.Object({
  name: Type.String({ minLength: 1, maxLength: LIMITS.nameChars }),
  line1: Type.String({ minLength: 1, maxLength: 200 }),
  line2: Type.Optional(Type.String({ maxLength: 200 })),
  city: Type.String({ minLength: 1, maxLength: 100 }),
  postalCode: Type.String({ minLength: 1, maxLength: 20 }),
  country: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' }),
});
export type ShippingAddress = Static<typeof ShippingAddress>;

export const CheckoutBody = Type.Object({ payment: PaymentInput, shippingAddress: ShippingAddress });
export type CheckoutBody = Static<typeof CheckoutBody>;

export const PayBody = Type.Object({ payment: PaymentInput });
export type PayBody = Static<typeof PayBody>;

export const IdempotencyKeyHeader = Type.String({ minLength: 1, maxLength: LIMITS.idempotencyKeyChars });

export const OrderLine = Type.Object({
  sku: Type.String(),
  title: Type.String(),
  quantity: Type.Integer({ minimum: 1 }),
  unitPrice: MoneySchema,
  lineTotal: MoneySchema,
});
export type OrderLine = Static<typeof OrderLine>;

export const OrderHistoryEntry = Type.Object({ status: OrderStatus, at: Timestamp, reason: Type.Optional(Type.String()) });
export type OrderHistoryEntry = Static<typeof OrderHistoryEntry>;

export const Order = Type.Object({
  id: Uuid,
  userId: Uuid,
  status: OrderStatus,
  lines: Type.Array(OrderLine),
  total: MoneySchema,
  shippingAddress: Type.Optional(ShippingAddress),
  /** A flash-sale order's payment deadline: paid by then (POST /orders/:id/pay), or it expires. */
  payBy: Type.Optional(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  history: Type.Array(OrderHistoryEntry),
});
export type Order = Static<typeof Order>;

export const OrderPage = pageOf(Order);

export const AdminOrderQuery = Type.Object({
  status: Type.Optional(OrderStatus),
  userId: Type.Optional(Type.String({ format: 'uuid', description: "only this customer's orders" })),
  ...PageQuery,
});
export type AdminOrderQuery = Static<typeof AdminOrderQuery>;
export const OrderListQuery = Type.Object({ ...PageQuery });

/*
 * The admin overview: the day's orders, sales and conversion (the order service's figures) and
 * the stock alerts (inventory's), composed by the gateway in one answer.
 */

/** Internal (`GET /admin/figures?since=`): the orders opened since a time, across the shards. */
export const OrderFiguresQuery = Type.Object({ since: Timestamp });
export type OrderFiguresQuery = Static<typeof OrderFiguresQuery>;

export const StatusCount = Type.Object({ status: OrderStatus, count: Type.Integer({ minimum: 0 }) });
export type StatusCount = Static<typeof StatusCount>;

export const OrderFigures = Type.Object({
  since: Timestamp,
  /** Orders opened since `since`, counted by the status they have now; every status, zeros too. */
  byStatus: Type.Array(StatusCount),
  /** The totals of those now CONFIRMED, one sum per currency (none when nothing was confirmed). */
  confirmedTotals: Type.Array(MoneySchema),
});
export type OrderFigures = Static<typeof OrderFigures>;

export const AdminOverviewQuery = Type.Object({
  lowStockAt: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'a SKU is a stock alert when its available units are at or under this (default 5)' }),
  ),
});
export type AdminOverviewQuery = Static<typeof AdminOverviewQuery>;

export const AdminOverview = Type.Object({
  /** The start of today, midnight UTC: every figure counts orders opened from then on. */
  since: Timestamp,
  orders: Type.Object({ total: Type.Integer({ minimum: 0 }), byStatus: Type.Array(StatusCount) }),
  /** Today's sales: the totals of today's orders that are CONFIRMED now, per currency. */
  sales: Type.Array(MoneySchema),
  /**
   * Today's checkouts that ended in a sale: `confirmed` (CONFIRMED now) of `attempted` (every order
   * opened today, whatever became of it); `rate` is their quotient, null when nothing was attempted.
   */
  conversion: Type.Object({
    attempted: Type.Integer({ minimum: 0 }),
    confirmed: Type.Integer({ minimum: 0 }),
    rate: Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()]),
  }),
  stockAlerts: LowStock,
});
export type AdminOverview = Static<typeof AdminOverview>;
