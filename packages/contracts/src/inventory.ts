import { Type, type Static } from 'typebox';
import { LIMITS } from '@agora/kernel';
import { Sku } from './catalog.js';

export const SkuParams = Type.Object({ sku: Sku });

export const Availability = Type.Object({ sku: Type.String(), available: Type.Integer({ minimum: 0 }) });
export type Availability = Static<typeof Availability>;

export const SetStockBody = Type.Object({ onHand: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }) });
export type SetStockBody = Static<typeof SetStockBody>;

export const StockLevel = Type.Object({
  sku: Type.String(),
  onHand: Type.Integer(),
  reserved: Type.Integer(),
  available: Type.Integer(),
});
export type StockLevel = Static<typeof StockLevel>;

/** A SKU with this many units available or fewer is a stock alert, unless the caller names another threshold. */
export const LOW_STOCK_THRESHOLD = 5;

/** Internal (`GET /admin/low-stock`): the SKUs at or under a threshold of available units, scarcest first. */
export const LowStockQuery = Type.Object({
  atMost: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: LOW_STOCK_THRESHOLD })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.pageSizeMax, default: LIMITS.pageSizeDefault })),
});
export type LowStockQuery = Static<typeof LowStockQuery>;

export const LowStock = Type.Object({
  threshold: Type.Integer({ minimum: 0 }),
  /** Scarcest first (then by SKU); at most the limit asked for. */
  items: Type.Array(StockLevel),
  /** More SKUs are at or under the threshold than `items` shows. */
  more: Type.Boolean(),
});
export type LowStock = Static<typeof LowStock>;

/** Internal: availability of many SKUs in one call (the gateway enriches product pages with it). */
export const AvailabilityQuery = Type.Object({
  skus: Type.String({ minLength: 1, maxLength: (LIMITS.skuChars + 1) * LIMITS.pageSizeMax * LIMITS.variantsPerProduct }),
});
export const AvailabilityList = Type.Object({ items: Type.Array(Availability) });
export type AvailabilityList = Static<typeof AvailabilityList>;

/**
 * SKUs go in the query string of `GET /inventory?skus=`. A full page (100 products x 50 variants)
 * would not fit in the URL an HTTP server accepts (Node: 16 KiB of headers), so a rare huge list
 * is split into a few calls of at most this many characters; a normal page or product is one.
 */
export const SKU_QUERY_BUDGET_CHARS = 4_000;

/** `skus` in calls of at most `budgetChars` of query string each, in order. */
export function skuBatches(skus: readonly string[], budgetChars: number = SKU_QUERY_BUDGET_CHARS): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let length = 0;
  for (const sku of skus) {
    const cost = encodeURIComponent(sku).length + 1;
    if (current.length > 0 && length + cost > budgetChars) {
      batches.push(current);
      current = [];
      length = 0;
    }
    current.push(sku);
    length += cost;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/*
 * Reservations (internal: the order service's checkout saga calls these; the gateway does not
 * expose them). A reservation's id is the order id, which makes every call idempotent on it.
 */

export const RESERVATION_STATUSES = ['HELD', 'COMMITTED', 'RELEASED', 'EXPIRED', 'RESTOCKED'] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];
export const ReservationStatusSchema = Type.Union([
  Type.Literal('HELD'),
  Type.Literal('COMMITTED'),
  Type.Literal('RELEASED'),
  Type.Literal('EXPIRED'),
  Type.Literal('RESTOCKED'),
]);

/** One reservation holds at most as many lines as a cart may have. */
export const RESERVATION_LINES_MAX = LIMITS.cartLinesMax;
/** Units of one SKU in one reservation: an order line comes from a cart line. */
export const RESERVATION_QUANTITY_MAX = LIMITS.cartQuantityMax;
/** Longest hold: a day. Checkout holds stock for minutes; a longer hold is a bug upstream. */
export const RESERVATION_TTL_MAX_SECONDS = 24 * 60 * 60;

/** A pattern, not `format: uuid` (which would also let `urn:uuid:` through). */
export const ReservationId = Type.String({
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
  description: 'the order id (UUID)',
});

export const ReservationLine = Type.Object({
  sku: Sku,
  quantity: Type.Integer({ minimum: 1, maximum: RESERVATION_QUANTITY_MAX }),
});
export type ReservationLine = Static<typeof ReservationLine>;

/** `POST /reservations`. SKUs must be distinct; an unknown SKU counts as out of stock. */
export const ReserveBody = Type.Object({
  reservationId: ReservationId,
  lines: Type.Array(ReservationLine, { minItems: 1, maxItems: RESERVATION_LINES_MAX }),
  ttlSeconds: Type.Integer({ minimum: 1, maximum: RESERVATION_TTL_MAX_SECONDS }),
});
export type ReserveBody = Static<typeof ReserveBody>;

export const ReservationParams = Type.Object({ id: ReservationId });
export type ReservationParams = Static<typeof ReservationParams>;

/** Lines come back sorted by SKU, so a replay answers byte for byte the same body. */
export const Reservation = Type.Object({
  reservationId: Type.String(),
  status: ReservationStatusSchema,
  expiresAt: Type.String({ description: 'ISO 8601 UTC' }),
  lines: Type.Array(Type.Object({ sku: Type.String(), quantity: Type.Integer() })),
});
export type Reservation = Static<typeof Reservation>;
