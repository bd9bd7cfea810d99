import type { FastifyRequest } from 'fastify';
import { ProblemSchema, catalog } from '@agora/contracts';
import { requireAdmin, sendJsonText, type HttpApp } from '@agora/platform';
import type { CatalogService } from '../app/catalog-service.js';
import type { StorefrontReads } from '../app/storefront-reads.js';
import type { ProductImages } from '../app/product-images.js';

/**
 * A caller that sends `x-agora-include: availability` (the gateway) gets products as shoppers see
 * them, each variant with inventory's `available`, from the storefront cache; others get the
 * catalog's own product. A product inventory could not enrich comes without `available`.
 */
const INCLUDE_HEADER = catalog.STOREFRONT_INCLUDE.header;
const AVAILABILITY = catalog.STOREFRONT_INCLUDE.value;
const problems = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema };

/** Admin routes check the caller before the body is validated: a customer learns nothing more. */
const adminOnly = async (request: FastifyRequest): Promise<void> => {
  requireAdmin(request);
};

/**
 * The catalog's internal HTTP surface. The gateway forwards `/api/v1/products...` and
 * `/api/v1/admin/products...` here, checks the token and sets the caller headers; other services
 * (cart, checkout) call `/products/by-sku` directly.
 */
export function registerCatalogRoutes(app: HttpApp, service: CatalogService, storefront: StorefrontReads, images: ProductImages): void {
  // The storefront answers are JSON text already: sent as they are, past the serializer.
  app.get(
    '/products',
    { schema: { querystring: catalog.ProductQuery, response: { 200: catalog.CatalogProductPage, 400: ProblemSchema } } },
    async (request, reply) => {
      if (request.headers[INCLUDE_HEADER] !== AVAILABILITY) return service.list(request.query);
      return sendJsonText(reply, (await storefront.page(request.query)).json);
    },
  );

  // A static segment wins over `/products/:id` in Fastify's router, whatever the order here.
  app.get(
    '/products/by-sku',
    { schema: { querystring: catalog.SkuLookupQuery, response: { 200: catalog.SkuVariantList, 400: ProblemSchema } } },
    async (request) => service.bySkus(request.query.skus),
  );

  app.get(
    '/products/:id',
    { schema: { params: catalog.ProductIdParams, response: { 200: catalog.CatalogProduct, 400: ProblemSchema, 404: ProblemSchema } } },
    async (request, reply) => {
      if (request.headers[INCLUDE_HEADER] !== AVAILABILITY) return service.get(request.params.id);
      return sendJsonText(reply, (await storefront.product(request.params.id)).json);
    },
  );

  app.post(
    '/products',
    { onRequest: adminOnly, schema: { body: catalog.CreateProductBody, response: { 201: catalog.CatalogProduct, ...problems } } },
    async (request, reply) => reply.code(201).send(await service.create(request.body)),
  );

  app.patch(
    '/products/:id',
    {
      onRequest: adminOnly,
      schema: { params: catalog.ProductIdParams, body: catalog.UpdateProductBody, response: { 200: catalog.CatalogProduct, ...problems } },
    },
    async (request) => service.update(request.params.id, request.body),
  );

  app.get(
    '/products/:id/related',
    { schema: { params: catalog.ProductIdParams, querystring: catalog.RelatedQuery, response: { 200: catalog.CatalogRelatedProducts, 400: ProblemSchema, 404: ProblemSchema } } },
    async (request) => service.related(request.params.id, request.query.limit),
  );

  // The gateway turns this JSON into the file's bytes with its cache headers: JSON crosses every transport.
  app.get(
    '/products/:id/images/:file',
    { schema: { params: catalog.ImageFileParams, response: { 200: catalog.ImageFile, 400: ProblemSchema, 404: ProblemSchema } } },
    async (request) => images.file(request.params.id, request.params.file),
  );

  app.put(
    '/products/:id/image',
    {
      onRequest: adminOnly,
      bodyLimit: catalog.UPLOAD_IMAGE_BODY_BYTES,
      schema: { params: catalog.ProductIdParams, body: catalog.UploadProductImageBody, response: { 200: catalog.CatalogProduct, ...problems, 413: ProblemSchema, 415: ProblemSchema } },
    },
    async (request) => images.upload(request.params.id, request.body),
  );

  app.get('/categories', { schema: { response: { 200: catalog.CategoryList } } }, async () => service.categories());
}
