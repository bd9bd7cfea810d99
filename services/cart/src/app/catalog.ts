import { AppError } from '@agora/kernel';
import type { CatalogPort, catalog } from '@agora/contracts';
import type { CallContext, ServiceClient } from '@agora/platform';

/** What the cart needs from the catalog: the current variant (price, title) of some SKUs. */
export interface CatalogLookup {
  /** Known SKUs only; an unknown SKU is absent. */
  variants(skus: readonly string[], context: CallContext): Promise<catalog.SkuVariant[]>;
}

function isSkuVariant(value: unknown): value is catalog.SkuVariant {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const price = v.price as Record<string, unknown> | null | undefined;
  return (
    typeof v.sku === 'string' &&
    typeof v.productId === 'string' &&
    typeof v.productName === 'string' &&
    typeof v.title === 'string' &&
    typeof price === 'object' &&
    price !== null &&
    typeof price.amount === 'number' &&
    typeof price.currency === 'string'
  );
}

/** The catalog's internal `GET /products/by-sku?skus=a,b` through the platform's service client. */
export class CatalogClient implements CatalogLookup {
  constructor(private readonly client: ServiceClient) {}

  async variants(skus: readonly string[], context: CallContext): Promise<catalog.SkuVariant[]> {
    if (skus.length === 0) return [];
    const body = await this.client.call<unknown>(
      { method: 'GET', path: `/products/by-sku?skus=${encodeURIComponent(skus.join(','))}`, idempotent: true },
      context,
    );
    const items = typeof body === 'object' && body !== null ? (body as { items?: unknown }).items : undefined;
    if (!Array.isArray(items) || !items.every(isSkuVariant)) {
      throw new AppError('UNAVAILABLE', 'The catalog answered an unexpected by-sku body', { extras: { service: 'catalog' } });
    }
    return items;
  }
}

/**
 * The catalog in this process, through its typed port: no HTTP, no JSON round trip (`agora
 * start`). The request id is not needed: both services log into the same process's log.
 */
export class CatalogPortLookup implements CatalogLookup {
  constructor(private readonly port: CatalogPort) {}

  variants(skus: readonly string[]): Promise<catalog.SkuVariant[]> {
    return skus.length === 0 ? Promise.resolve([]) : this.port.variants(skus);
  }
}
