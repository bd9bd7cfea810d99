import { Type, type Static } from 'typebox';
import { MoneySchema, Timestamp, Uuid } from './common.js';
import { Sku } from './catalog.js';

/**
 * Flash sales (docs/flash-sales.md): the HTTP bodies of the public routes and the facts that
 * carry a ticket to an order and an unpaid order's units back to the sale.
 */

/** The most units one sale may hold, and one purchase may ask for. */
export const FLASH_SALE_LIMITS = {
  quantityMax: 1_000_000,
  perUserLimitMax: 100,
  purchaseQuantityMax: 100,
  /** A sale's own payment window: at least a second, at most a week. */
  paymentWindowSecondsMin: 1,
  paymentWindowSecondsMax: 7 * 24 * 3_600,
} as const;

/** How long a buyer has to pay the order of a ticket, from the order's opening; absent: the shop's default. */
const PaymentWindowSeconds = Type.Integer({
  minimum: FLASH_SALE_LIMITS.paymentWindowSecondsMin,
  maximum: FLASH_SALE_LIMITS.paymentWindowSecondsMax,
  description: "seconds a buyer has to pay an order of this sale; absent: the shop's default (AGORA_FLASH_SALE_PAYMENT_WINDOW_MS, 10 minutes)",
});

export const CreateFlashSaleBody = Type.Object(
  {
    sku: Sku,
    quantity: Type.Integer({ minimum: 1, maximum: FLASH_SALE_LIMITS.quantityMax }),
    price: MoneySchema,
    startsAt: Timestamp,
    endsAt: Timestamp,
    perUserLimit: Type.Integer({ minimum: 1, maximum: FLASH_SALE_LIMITS.perUserLimitMax }),
    paymentWindowSeconds: Type.Optional(PaymentWindowSeconds),
  },
  { additionalProperties: false },
);
export type CreateFlashSaleBody = Static<typeof CreateFlashSaleBody>;

export const FlashSaleStatus = Type.Union([Type.Literal('SCHEDULED'), Type.Literal('ACTIVE'), Type.Literal('SOLD_OUT'), Type.Literal('ENDED')]);
export type FlashSaleStatus = Static<typeof FlashSaleStatus>;

const FlashSaleFields = {
  id: Uuid,
  sku: Sku,
  price: MoneySchema,
  quantity: Type.Integer(),
  remaining: Type.Integer({ description: 'units a purchase can still get (may lag by a fraction of a second)' }),
  startsAt: Timestamp,
  endsAt: Timestamp,
  perUserLimit: Type.Integer(),
  paymentWindowSeconds: Type.Optional(PaymentWindowSeconds),
  status: FlashSaleStatus,
};
export const FlashSale = Type.Object(FlashSaleFields);
export type FlashSale = Static<typeof FlashSale>;

/** The operator's view: where the units are, and how far Redis strayed from the database. */
export const FlashSaleStats = Type.Object({
    ...FlashSaleFields,
    accepted: Type.Integer({ description: 'tickets issued (units): ordered plus those on their way' }),
    ordered: Type.Integer({ description: 'units that became orders (awaiting payment, paid, or expired since)' }),
    paid: Type.Integer(),
    expired: Type.Integer({ description: 'units returned (unpaid) or refused by the database' }),
    drift: Type.Integer({ description: 'Redis remaining minus what the database implies, at the last reconciliation' }),
});
export type FlashSaleStats = Static<typeof FlashSaleStats>;

export const PurchaseBody = Type.Object({ quantity: Type.Integer({ minimum: 1, maximum: FLASH_SALE_LIMITS.purchaseQuantityMax }) }, { additionalProperties: false });
export type PurchaseBody = Static<typeof PurchaseBody>;

export const TicketStatus = Type.Union([Type.Literal('ACCEPTED'), Type.Literal('ORDERED'), Type.Literal('EXPIRED')]);
export type TicketStatus = Static<typeof TicketStatus>;

export const Ticket = Type.Object({ ticketId: Uuid, status: TicketStatus, orderId: Type.Optional(Uuid) });
export type Ticket = Static<typeof Ticket>;

export const TicketParams = Type.Object({ id: Uuid, ticketId: Uuid });

export const FLASH_SALE_EVENT_TYPES = {
  /** A ticket the Redis script issued: inventory takes its units in PostgreSQL. */
  TicketAccepted: 'flash-sale.ticket-accepted',
  /** Units taken in PostgreSQL for a ticket: the order service opens the RESERVED order. */
  UnitTaken: 'flash-sale.unit-taken',
  /** An order of the sale was not paid (expired, declined): its units go back to the sale. */
  OrderReleased: 'flash-sale.order-released',
} as const;

export const TicketAccepted = Type.Object({ ticketId: Uuid, saleId: Uuid, userId: Uuid, quantity: Type.Integer({ minimum: 1 }) });
export type TicketAccepted = Static<typeof TicketAccepted>;

export const UnitTaken = Type.Object({
  ticketId: Uuid,
  saleId: Uuid,
  userId: Uuid,
  sku: Sku,
  quantity: Type.Integer({ minimum: 1 }),
  unitPrice: MoneySchema,
  /** The sale's own payment window; absent (also in facts written before it existed): the shop's default. */
  paymentWindowSeconds: Type.Optional(PaymentWindowSeconds),
});
export type UnitTaken = Static<typeof UnitTaken>;

export const OrderReleased = Type.Object({ ticketId: Uuid, saleId: Uuid, userId: Uuid, quantity: Type.Integer({ minimum: 1 }), reason: Type.String() });
export type OrderReleased = Static<typeof OrderReleased>;

/** The Idempotency-Key of the order a ticket becomes: names its sale, unique per ticket. */
export function flashSaleOrderKey(saleId: string, ticketId: string): string {
  return `flash-sale:${saleId}:${ticketId}`;
}

/** The sale and ticket of a flash-sale order's key, or undefined for any other order. */
export function parseFlashSaleOrderKey(key: string): { saleId: string; ticketId: string } | undefined {
  const match = /^flash-sale:([0-9a-f-]{36}):([0-9a-f-]{36})$/.exec(key);
  return match?.[1] && match[2] ? { saleId: match[1], ticketId: match[2] } : undefined;
}

export const FlashSaleStatsList = Type.Object({ items: Type.Array(FlashSaleStats) });
export type FlashSaleStatsList = Static<typeof FlashSaleStatsList>;
