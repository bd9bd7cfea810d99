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

/** Internal: availability of many SKUs in one call (the gateway enriches product pages with it). */
export const AvailabilityQuery = Type.Object({
  skus: Type.String({ minLength: 1, maxLength: (LIMITS.skuChars + 1) * LIMITS.pageSizeMax * LIMITS.variantsPerProduct }),
});
export const AvailabilityList = Type.Object({ items: Type.Array(Availability) });
