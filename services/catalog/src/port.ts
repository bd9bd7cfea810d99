import type { CatalogPort, catalog } from '@agora/contracts';
import { InProcessBoundary, type Logger } from '@agora/platform';
import type { CatalogService } from './app/catalog-service.js';

/**
 * The catalog port in process: `GET /products/by-sku`'s application object, called directly. The
 * service parses and checks the SKU list itself (the route's query is one comma-separated string),
 * so an empty or malformed list fails VALIDATION_FAILED here as over HTTP.
 */
export class InProcessCatalogPort implements CatalogPort {
  private readonly boundary: InProcessBoundary;

  constructor(
    private readonly catalog: CatalogService,
    logger: Logger,
  ) {
    this.boundary = new InProcessBoundary('catalog', logger);
  }

  async variants(skus: readonly string[]): Promise<catalog.SkuVariant[]> {
    return this.boundary.run('variants', async () => (await this.catalog.bySkus(skus.join(','))).items);
  }
}
