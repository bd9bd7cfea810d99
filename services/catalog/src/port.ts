import type { CatalogPort, StorefrontText, catalog } from '@agora/contracts';
import { InProcessBoundary, type Logger } from '@agora/platform';
import type { CatalogService } from './app/catalog-service.js';
import type { StorefrontReads } from './app/storefront-reads.js';

/**
 * The catalog port in process: the application objects of `GET /products/by-sku` and of the
 * storefront reads, called directly. The service parses and checks the SKU list itself (the
 * route's query is one comma-separated string), so an empty or malformed list fails
 * VALIDATION_FAILED here as over HTTP; the storefront's callers validated their input at their edge.
 */
export class InProcessCatalogPort implements CatalogPort {
  private readonly boundary: InProcessBoundary;

  constructor(
    private readonly catalog: CatalogService,
    private readonly storefront: StorefrontReads,
    logger: Logger,
  ) {
    this.boundary = new InProcessBoundary('catalog', logger);
  }

  async variants(skus: readonly string[]): Promise<catalog.SkuVariant[]> {
    return this.boundary.run('variants', async () => (await this.catalog.bySkus(skus.join(','))).items);
  }

  storefrontProduct(id: string): Promise<StorefrontText> {
    return this.boundary.run('storefrontProduct', () => this.storefront.product(id));
  }

  storefrontPage(query: catalog.ProductQuery): Promise<StorefrontText> {
    return this.boundary.run('storefrontPage', () => this.storefront.page(query));
  }
}
