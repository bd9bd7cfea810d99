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
