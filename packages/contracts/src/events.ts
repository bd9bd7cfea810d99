import { Type, type Static } from 'typebox';
import { MoneySchema, Timestamp, Uuid } from './common.js';

/**
 * Every fact one service tells the others travels in this envelope. `id` is the message id the bus
 * deduplicates on (a UUIDv7 made when the fact is written to the outbox).
 */
export const EventEnvelope = Type.Object({
  id: Uuid,
  type: Type.String(),
  /** Which aggregate the event is about (order id, sku, payment id): consumers order by it. */
  key: Type.String(),
  occurredAt: Timestamp,
  payload: Type.Unknown(),
  /** The W3C trace context of the change that made the fact (absent when tracing is off): consumers continue its trace. */
  traceContext: Type.Optional(Type.Object({ traceparent: Type.Optional(Type.String()), tracestate: Type.Optional(Type.String()) })),
});
export type EventEnvelope = Static<typeof EventEnvelope>;

export const OrderLineFact = Type.Object({ sku: Type.String(), quantity: Type.Integer({ minimum: 1 }), unitPrice: MoneySchema });

/** `flashSale`: the order came from a flash-sale ticket (paid with POST /orders/:id/pay); absent for checkouts. */
export const OrderConfirmed = Type.Object({ orderId: Uuid, userId: Uuid, total: MoneySchema, lines: Type.Array(OrderLineFact), flashSale: Type.Optional(Type.Boolean()) });
export type OrderConfirmed = Static<typeof OrderConfirmed>;

export const OrderCancelled = Type.Object({ orderId: Uuid, userId: Uuid, refunded: MoneySchema, reason: Type.String() });
export type OrderCancelled = Static<typeof OrderCancelled>;

export const StockChanged = Type.Object({
  sku: Type.String(),
  onHand: Type.Integer(),
  reserved: Type.Integer(),
  available: Type.Integer(),
  reason: Type.String(),
});
export type StockChanged = Static<typeof StockChanged>;

export const PaymentCaptured = Type.Object({ paymentId: Uuid, orderId: Uuid, amount: MoneySchema });
export type PaymentCaptured = Static<typeof PaymentCaptured>;

/** Outcome of an asynchronous authorization (sandbox `tok_async`, real providers' webhooks). */
export const PaymentSettled = Type.Object({
  paymentId: Uuid,
  orderId: Uuid,
  status: Type.Union([Type.Literal('AUTHORIZED'), Type.Literal('DECLINED'), Type.Literal('FAILED')]),
  reason: Type.Optional(Type.String()),
});
export type PaymentSettled = Static<typeof PaymentSettled>;

/** Event type names, which are also the NATS subject suffixes (`agora.events.<type>`). */
export const EVENT_TYPES = {
  OrderConfirmed: 'order.confirmed',
  OrderCancelled: 'order.cancelled',
  StockChanged: 'inventory.stock-changed',
  PaymentCaptured: 'payment.captured',
  PaymentSettled: 'payment.settled',
} as const;
export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];
