import { Type, type Static } from 'typebox';
import { LIMITS } from '@agora/kernel';
import { MoneySchema, Timestamp, Uuid } from './common.js';

/*
 * The payment service's internal API. Only other services (the order service, through a
 * ServiceClient) and the payment provider's webhook reach it; shoppers never do.
 */

/**
 * Lifecycle of a payment intent:
 * PENDING → AUTHORIZED | DECLINED | FAILED | VOIDED; AUTHORIZED → CAPTURED | VOIDED;
 * CAPTURED → REFUNDED (once refunds add up to the captured amount; partial refunds stay CAPTURED).
 */
/**
 * `extras.refusedBy` of a 409 from capture, void or refund when the payment provider itself
 * refused (a business answer: the same call would be refused again), as opposed to a conflict
 * of our own records. The checkout treats a refused capture as a declined payment.
 */
export const PROVIDER_REFUSAL = 'provider';

export const PaymentStatus = Type.Union([
  Type.Literal('PENDING'),
  Type.Literal('AUTHORIZED'),
  Type.Literal('DECLINED'),
  Type.Literal('FAILED'),
  Type.Literal('CAPTURED'),
  Type.Literal('VOIDED'),
  Type.Literal('REFUNDED'),
]);
export type PaymentStatus = Static<typeof PaymentStatus>;

export const IdempotencyKey = Type.String({ minLength: 1, maxLength: LIMITS.idempotencyKeyChars, description: 'a retry with the same key returns the first result' });

/** A card token from the provider's client-side tokenization (sandbox: `tok_visa`, `tok_declined`, ...). */
export const CardToken = Type.String({ minLength: 1, maxLength: 255 });

export const AuthorizeBody = Type.Object({
  orderId: Uuid,
  userId: Uuid,
  amount: MoneySchema,
  token: CardToken,
  idempotencyKey: IdempotencyKey,
});
export type AuthorizeBody = Static<typeof AuthorizeBody>;

export const CaptureBody = Type.Object({ idempotencyKey: IdempotencyKey });
export type CaptureBody = Static<typeof CaptureBody>;

export const VoidBody = Type.Object({ idempotencyKey: IdempotencyKey });
export type VoidBody = Static<typeof VoidBody>;

export const RefundBody = Type.Object({ amount: MoneySchema, idempotencyKey: IdempotencyKey });
export type RefundBody = Static<typeof RefundBody>;

export const PaymentIntent = Type.Object({
  id: Uuid,
  orderId: Uuid,
  userId: Uuid,
  amount: MoneySchema,
  status: PaymentStatus,
  /** Why the provider declined (`card_declined`, `insufficient_funds`, `invalid_token`) or failed (`provider_error`). */
  declineCode: Type.Optional(Type.String()),
  provider: Type.String(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  capturedAmount: MoneySchema,
  refundedAmount: MoneySchema,
});
export type PaymentIntent = Static<typeof PaymentIntent>;

export const PaymentIdParams = Type.Object({ id: Uuid });
export type PaymentIdParams = Static<typeof PaymentIdParams>;

export const PaymentListQuery = Type.Object({ orderId: Uuid });
export type PaymentListQuery = Static<typeof PaymentListQuery>;

/** Intents of one order, oldest first. */
export const PaymentList = Type.Object({ items: Type.Array(PaymentIntent) });
export type PaymentList = Static<typeof PaymentList>;

/** The signature header a provider's webhook carries: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. */
export const WEBHOOK_SIGNATURE_HEADER = 'agora-signature';

export const WebhookEventType = Type.Union([Type.Literal('payment.authorized'), Type.Literal('payment.declined'), Type.Literal('payment.failed')]);
export type WebhookEventType = Static<typeof WebhookEventType>;

export const WebhookEvent = Type.Object({
  /** The provider's event id: each is processed once. */
  id: Type.String({ minLength: 1, maxLength: 255 }),
  type: WebhookEventType,
  paymentId: Uuid,
  providerRef: Type.String({ minLength: 1, maxLength: 255 }),
  /** With `payment.declined` / `payment.failed`: the provider's reason. */
  declineCode: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
});
export type WebhookEvent = Static<typeof WebhookEvent>;

/** `applied`: the intent settled; `duplicate`: this event id was processed before; `ignored`: nothing to change. */
export const WebhookAck = Type.Object({
  received: Type.Literal(true),
  outcome: Type.Union([Type.Literal('applied'), Type.Literal('duplicate'), Type.Literal('ignored')]),
});
export type WebhookAck = Static<typeof WebhookAck>;
