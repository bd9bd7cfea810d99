import { catalog } from '@agora/contracts';
import { asCatalogPage, asCatalogProduct } from '../availability.js';
import { BEARER_SECURITY, IdempotencyHeaders, ok, problems, withExample } from '../schemas.js';
import { EXAMPLES } from '../examples.js';
import { TAGS } from '../openapi.js';
import { sendJsonText } from '@agora/platform';
import { isSuccess, relay } from '../upstream.js';
import type { RouteArea } from './context.js';

/**
 * Asks catalog for products as shoppers see them: with `available`, from catalog's storefront cache
 * (docs/caching.md). A product catalog could not enrich comes without it and is enriched here.
 */
/** Image URLs are immutable (a new image or name gets a new URL): caches may keep a file for a year. */
const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';
const IMAGE_BYTES = { type: 'string', format: 'binary' } as const;

const WITH_AVAILABILITY = { [catalog.STOREFRONT_INCLUDE.header]: catalog.STOREFRONT_INCLUDE.value };

/**
 * Products come from catalog and their `available` from inventory (one batch call per page);
 * categories pass straight through. Admin writes answer the product enriched the same way.
 */
export const catalogRoutes: RouteArea = (app, { upstream, availability, catalog: inProcess }) => {
  app.get(
    '/api/v1/products',
    {
      schema: {
        tags: [TAGS.catalog],
        operationId: 'listProducts',
        summary: 'Search and browse products',
        querystring: catalog.ProductQuery,
        response: { 200: ok('A page of products', catalog.ProductPage, EXAMPLES.productPage), ...problems() },
      },
    },
    async (request, reply) => {
      if (inProcess) {
        // In one process: the cache's text as it is, unless a product lacks its availability.
        const read = await inProcess.storefrontPage(request.query);
        if (read.withAvailability) return sendJsonText(reply, read.json);
        const page = asCatalogPage(JSON.parse(read.json));
        return reply.send({ ...page, items: await availability.enrich(request, reply, page.items) });
      }
      const response = await upstream.call(request, 'catalog', { method: 'GET', path: `/products${catalog.productQueryString(request.query)}`, idempotent: true, headers: WITH_AVAILABILITY });
      if (!isSuccess(response)) return relay(reply, 'catalog', response);
      const page = asCatalogPage(response.body);
      const items = catalog.carryAvailability(page.items) ? page.items : await availability.enrich(request, reply, page.items);
      return reply.code(response.status).send({ ...page, items });
    },
  );

  app.get(
    '/api/v1/products/:id',
    {
      schema: {
        tags: [TAGS.catalog],
        operationId: 'getProduct',
        summary: 'One product with the availability of each variant',
        params: catalog.ProductIdParams,
        response: { 200: ok('The product', catalog.Product, EXAMPLES.product), ...problems('NOT_FOUND') },
      },
    },
    async (request, reply) => {
      if (inProcess) {
        const read = await inProcess.storefrontProduct(request.params.id);
        if (read.withAvailability) return sendJsonText(reply, read.json);
        return reply.send(await availability.enrichOne(request, reply, asCatalogProduct(JSON.parse(read.json))));
      }
      const response = await upstream.call(request, 'catalog', { method: 'GET', path: `/products/${encodeURIComponent(request.params.id)}`, idempotent: true, headers: WITH_AVAILABILITY });
      if (!isSuccess(response)) return relay(reply, 'catalog', response);
      const found = asCatalogProduct(response.body);
      const product = catalog.carryAvailability([found]) ? found : await availability.enrichOne(request, reply, found);
      return reply.code(response.status).send(product);
    },
  );

  app.get(
    '/api/v1/products/:id/related',
    {
      schema: {
        tags: [TAGS.catalog],
        operationId: 'listRelatedProducts',
        summary: 'Products of the same category nearest in price (never the product itself)',
        params: catalog.ProductIdParams,
        querystring: catalog.RelatedQuery,
        response: { 200: ok('Related products, nearest in price first', catalog.RelatedProducts, { items: [EXAMPLES.product] }), ...problems('VALIDATION_FAILED', 'NOT_FOUND') },
      },
    },
    async (request, reply) => {
      const limit = request.query.limit ?? catalog.RELATED_PRODUCTS_DEFAULT;
      const response = await upstream.call(request, 'catalog', { method: 'GET', path: `/products/${encodeURIComponent(request.params.id)}/related?limit=${limit}`, idempotent: true });
      if (!isSuccess(response)) return relay(reply, 'catalog', response);
      const related = response.body as catalog.CatalogRelatedProducts;
      return reply.send({ items: await availability.enrich(request, reply, related.items.map(asCatalogProduct)) });
    },
  );

  app.get(
    '/api/v1/products/:id/images/:file',
    {
      schema: {
        tags: [TAGS.catalog],
        operationId: 'getProductImage',
        summary: 'One file of a product image (the URLs in a product\'s `image`; immutable, cached for a year)',
        params: catalog.ImageFileParams,
        response: {
          200: {
            description: 'The file: an uploaded image at one width (WebP) or the drawn picture (SVG). `ETag` answers `If-None-Match` with 304.',
            content: {
              'image/webp': { schema: IMAGE_BYTES, example: 'RIFF\u2026WEBPVP8 \u2026 (the WebP file)' },
              'image/svg+xml': { schema: IMAGE_BYTES, example: '<svg xmlns="http://www.w3.org/2000/svg" width="800" height="800" viewBox="0 0 800 800" role="img" aria-label="Organic cotton T-shirt">\u2026</svg>' },
            },
          },
          304: { description: 'Not modified: the `If-None-Match` ETag is this file\'s', type: 'null' },
          ...problems('VALIDATION_FAILED', 'NOT_FOUND'),
        },
      },
    },
    async (request, reply) => {
      const response = await upstream.call(request, 'catalog', { method: 'GET', path: `/products/${encodeURIComponent(request.params.id)}/images/${encodeURIComponent(request.params.file)}`, idempotent: true });
      if (!isSuccess(response)) return relay(reply, 'catalog', response);
      const file = response.body as catalog.ImageFile;
      reply.header('cache-control', IMMUTABLE_CACHE).header('etag', file.etag).header('x-content-type-options', 'nosniff');
      // A drawn picture is SVG: no script, nothing loaded, even when opened on its own.
      if (file.contentType === 'image/svg+xml') reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
      if (request.headers['if-none-match'] === file.etag) return reply.code(304).send(null);
      return reply.type(file.contentType).send(Buffer.from(file.data, 'base64'));
    },
  );

  app.put(
    '/api/v1/admin/products/:id/image',
    {
      bodyLimit: catalog.UPLOAD_IMAGE_BODY_BYTES,
      schema: {
        tags: [TAGS.catalog, TAGS.admin],
        operationId: 'uploadProductImage',
        summary: 'Upload a product image (PNG, JPEG or WebP in base64; kept as WebP in every width of the answer\'s srcset)',
        security: BEARER_SECURITY,
        params: catalog.ProductIdParams,
        body: withExample(catalog.UploadProductImageBody, { contentType: 'image/png', data: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', alt: 'The T-shirt, folded' }),
        response: {
          200: ok('The product with its new image', catalog.Product, EXAMPLES.product),
          ...problems('VALIDATION_FAILED', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'),
        },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      const response = await upstream.call(request, 'catalog', { method: 'PUT', path: `/products/${encodeURIComponent(request.params.id)}/image`, body: request.body });
      if (!isSuccess(response)) return relay(reply, 'catalog', response);
      return reply.send(await availability.enrichOne(request, reply, asCatalogProduct(response.body)));
    },
  );

  app.get(
    '/api/v1/categories',
    {
      schema: {
        tags: [TAGS.catalog],
        operationId: 'listCategories',
        summary: 'Categories with their product counts',
        response: { 200: ok('Every category with its product count', catalog.CategoryList, EXAMPLES.categoryList), ...problems() },
      },
    },
    async (request, reply) => {
      const response = await upstream.call(request, 'catalog', { method: 'GET', path: '/categories', idempotent: true });
      return relay(reply, 'catalog', response);
    },
  );

  app.post(
    '/api/v1/admin/products',
    {
      schema: {
        tags: [TAGS.catalog, TAGS.admin],
        operationId: 'createProduct',
        summary: 'Add a product',
        security: BEARER_SECURITY,
        headers: IdempotencyHeaders,
        body: withExample(catalog.CreateProductBody, EXAMPLES.createProduct),
        response: { 201: ok('The new product', catalog.Product, EXAMPLES.product), ...problems('CONFLICT') },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      const response = await upstream.call(request, 'catalog', { method: 'POST', path: '/products', body: request.body });
      if (!isSuccess(response)) return relay(reply, 'catalog', response);
      const product = await availability.enrichOne(request, reply, asCatalogProduct(response.body));
      return reply.code(response.status).send(product);
    },
  );

  app.patch(
    '/api/v1/admin/products/:id',
    {
      schema: {
        tags: [TAGS.catalog, TAGS.admin],
        operationId: 'updateProduct',
        summary: 'Change a product (any of its fields)',
        security: BEARER_SECURITY,
        params: catalog.ProductIdParams,
        body: withExample(catalog.UpdateProductBody, EXAMPLES.updateProduct),
        response: { 200: ok('The changed product', catalog.Product, EXAMPLES.product), ...problems('NOT_FOUND', 'CONFLICT') },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      const response = await upstream.call(request, 'catalog', { method: 'PATCH', path: `/products/${encodeURIComponent(request.params.id)}`, body: request.body });
      if (!isSuccess(response)) return relay(reply, 'catalog', response);
      const product = await availability.enrichOne(request, reply, asCatalogProduct(response.body));
      return reply.code(response.status).send(product);
    },
  );
};
