import { Type, type Static } from 'typebox';
import { LIMITS } from '@agora/kernel';
import { MoneySchema } from './common.js';
import { Sku } from './catalog.js';

/** Body quantities are strict integers: `1.5` and `"3"` are 400s naming `quantity`. */
export const AddItemBody = Type.Object({
  sku: Sku,
  quantity: Type.Integer({ minimum: 1, maximum: LIMITS.cartQuantityMax }),
});
export type AddItemBody = Static<typeof AddItemBody>;

/** 0 removes the line. */
export const UpdateItemBody = Type.Object({
  quantity: Type.Integer({ minimum: 0, maximum: LIMITS.cartQuantityMax }),
});
export type UpdateItemBody = Static<typeof UpdateItemBody>;

export const ItemParams = Type.Object({ sku: Sku });
export type ItemParams = Static<typeof ItemParams>;

export const UnavailableReason = Type.Union([Type.Literal('NOT_IN_CATALOG'), Type.Literal('OTHER_CURRENCY')]);
export type UnavailableReason = Static<typeof UnavailableReason>;

export const CartItem = Type.Object({
  sku: Type.String(),
  productId: Type.String(),
  productName: Type.String(),
  /** The variant's title (docs/api.md#cart-the-callers-own); `productName` names the product it belongs to. */
  title: Type.String(),
  quantity: Type.Integer({ minimum: 1 }),
  unitPrice: MoneySchema,
  lineTotal: MoneySchema,
});
export type CartItem = Static<typeof CartItem>;

export const Cart = Type.Object({
  items: Type.Array(CartItem),
  /** Sum of `lineTotal` over `items`; `{ amount: 0, currency: 'USD' }` for an empty cart. */
  subtotal: MoneySchema,
  /** Sum of `quantity` over `items`. */
  itemCount: Type.Integer({ minimum: 0 }),
  /**
   * Lines that cannot be priced now: the catalog no longer sells the SKU, or prices it in another
   * currency than the rest of the cart. They stay stored (the product may come back) but are
   * outside `items`, `subtotal` and `itemCount`.
   */
  unavailable: Type.Array(Type.Object({ sku: Type.String(), quantity: Type.Integer({ minimum: 1 }), reason: UnavailableReason })),
});
export type Cart = Static<typeof Cart>;

/**
 * Internal: `POST /cart/checked-out` (the order service, after a confirmed checkout). Removes
 * these quantities from the user's cart once per `orderId`; lines added meanwhile survive.
 */
export const CheckedOutBody = Type.Object({
  orderId: Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$', description: 'order id (UUID)' }),
  lines: Type.Array(Type.Object({ sku: Sku, quantity: Type.Integer({ minimum: 1, maximum: LIMITS.cartQuantityMax }) }), {
    maxItems: LIMITS.cartLinesMax,
  }),
});
export type CheckedOutBody = Static<typeof CheckedOutBody>;

/** What `POST /cart/checked-out` answers: `applied` false when this order id was applied before. */
export const CheckedOutResult = Type.Object({
  orderId: Type.String(),
  applied: Type.Boolean(),
  lines: Type.Array(Type.Object({ sku: Type.String(), quantity: Type.Integer({ minimum: 1 }) })),
});
export type CheckedOutResult = Static<typeof CheckedOutResult>;

/** The user's cart lines as stored, without prices (the order service reads prices itself). */
export const CartLines = Type.Object({
  lines: Type.Array(Type.Object({ sku: Type.String(), quantity: Type.Integer({ minimum: 1 }) })),
});
export type CartLines = Static<typeof CartLines>;
