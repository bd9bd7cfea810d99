import { Type, type Static } from 'typebox';
import { LIMITS } from '@agora/kernel';
import { MoneySchema, PageQuery, Uuid, pageOf } from './common.js';

export const Sku = Type.String({ minLength: 1, maxLength: LIMITS.skuChars, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });
export const Category = Type.String({ minLength: 1, maxLength: LIMITS.categoryChars, pattern: '^[a-z0-9][a-z0-9-]*$' });

export const VariantInput = Type.Object({
  sku: Sku,
  title: Type.String({ minLength: 1, maxLength: LIMITS.variantTitleChars }),
  price: MoneySchema,
});
export type VariantInput = Static<typeof VariantInput>;

export const CreateProductBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: LIMITS.productNameChars }),
  description: Type.String({ maxLength: LIMITS.productDescriptionChars }),
  category: Category,
  variants: Type.Array(VariantInput, { minItems: 1, maxItems: LIMITS.variantsPerProduct }),
});
export type CreateProductBody = Static<typeof CreateProductBody>;

export const UpdateProductBody = Type.Partial(CreateProductBody, { minProperties: 1 });
export type UpdateProductBody = Static<typeof UpdateProductBody>;

export const Variant = Type.Object({
  sku: Type.String(),
  title: Type.String(),
  price: MoneySchema,
  available: Type.Integer({ minimum: 0, description: 'on hand - reserved; may be slightly stale' }),
});
export type Variant = Static<typeof Variant>;

export const Product = Type.Object({
  id: Uuid,
  name: Type.String(),
  description: Type.String(),
  category: Type.String(),
  variants: Type.Array(Variant),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type Product = Static<typeof Product>;

export const ProductQuery = Type.Object({
  q: Type.Optional(Type.String({ maxLength: LIMITS.searchQueryChars })),
  category: Type.Optional(Type.String({ maxLength: LIMITS.categoryChars })),
  ...PageQuery,
});
export type ProductQuery = Static<typeof ProductQuery>;

export const ProductPage = pageOf(Product);

export const CategorySummary = Type.Object({ category: Type.String(), productCount: Type.Integer() });
export const CategoryList = Type.Object({ items: Type.Array(CategorySummary) });
