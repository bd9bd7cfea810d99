import { AppError, validationError, type FieldError, type Money } from '@agora/kernel';
import type { StoredImage } from './image.js';

/** A variant as the catalog keeps it: the SKU is its identity across every service. */
export interface VariantData {
  sku: string;
  title: string;
  price: Money;
}

export interface ProductData {
  id: string;
  name: string;
  description: string;
  category: string;
  variants: VariantData[];
  /** The uploaded image; none: the product shows its drawn picture. */
  image?: StoredImage | undefined;
  createdAt: Date;
  updatedAt: Date;
}

export interface ProductFields {
  name: string;
  description: string;
  category: string;
}

/**
 * Text as it is stored: trimmed, so that `"  "` is not a name. The schema already bounded the
 * lengths; what is left are the rules a schema cannot say.
 */
export function normalizeFields<T extends Partial<ProductFields>>(fields: T): T {
  const result = { ...fields };
  const errors: FieldError[] = [];
  if (result.name !== undefined) {
    result.name = result.name.trim();
    if (result.name.length === 0) errors.push({ path: 'name', message: 'must not be blank' });
  }
  if (result.description !== undefined) result.description = result.description.trim();
  if (errors.length > 0) throw validationError(errors);
  return result;
}

/**
 * The rules for a product's variant list: at least one, every title not blank, one currency for
 * the whole product (so that "from $x" and sorting by price mean something), no SKU twice.
 */
export function normalizeVariants(input: readonly VariantData[]): VariantData[] {
  const errors: FieldError[] = [];
  if (input.length === 0) throw validationError([{ path: 'variants', message: 'must have at least one variant' }]);
  const variants = input.map((v, i) => {
    const title = v.title.trim();
    if (title.length === 0) errors.push({ path: `variants[${i}].title`, message: 'must not be blank' });
    if (!Number.isSafeInteger(v.price.amount) || v.price.amount < 0) {
      errors.push({ path: `variants[${i}].price.amount`, message: 'must be a non-negative integer count of minor units' });
    }
    return { sku: v.sku, title, price: { amount: v.price.amount, currency: v.price.currency } };
  });
  const currency = variants[0]?.price.currency;
  variants.forEach((v, i) => {
    if (v.price.currency !== currency) {
      errors.push({ path: `variants[${i}].price.currency`, message: `must be ${currency ?? 'the same'} like the first variant: all variants of a product share one currency` });
    }
  });
  if (errors.length > 0) throw validationError(errors);
  const seen = new Map<string, number>();
  variants.forEach((v, i) => {
    const first = seen.get(v.sku);
    if (first !== undefined) {
      throw new AppError('CONFLICT', `SKU ${v.sku} is listed twice (variants[${first}] and variants[${i}])`, {
        errors: [{ path: `variants[${i}].sku`, message: `duplicates variants[${first}].sku ${v.sku}` }],
        extras: { sku: v.sku },
      });
    }
    seen.set(v.sku, i);
  });
  return variants;
}

export function skuTaken(sku: string, index: number): AppError {
  return new AppError('CONFLICT', `SKU ${sku} already belongs to another product`, {
    errors: [{ path: index >= 0 ? `variants[${index}].sku` : 'variants', message: `SKU ${sku} is taken` }],
    extras: { sku },
  });
}
