import { fastifySwagger } from '@fastify/swagger';
import { fastifySwaggerUi } from '@fastify/swagger-ui';
import type { HttpApp } from '@agora/platform';

export const OPENAPI_JSON_PATH = '/api/openapi.json';
export const DOCS_PREFIX = '/api/docs';

/** Tags group the document; a route without one is left out (health, metrics, the docs themselves). */
export const TAGS = {
  identity: 'identity',
  catalog: 'catalog',
  inventory: 'inventory',
  cart: 'cart',
  orders: 'orders',
  payments: 'payments',
  admin: 'admin',
} as const;

/**
 * The OpenAPI 3.1 document is generated from the routes' TypeBox schemas (TypeBox emits JSON
 * Schema 2020-12, which 3.1 uses as is). Must be registered before the routes it describes.
 * Swagger UI serves its bundled assets from the package; nothing is fetched at run time.
 */
export async function registerOpenApi(app: HttpApp, version: string): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Agora',
        version,
        description: 'Public HTTP API of Agora, an open-source e-commerce platform. Errors are application/problem+json (RFC 9457) with a stable `code`.',
      },
      tags: [
        { name: TAGS.identity, description: 'Register, log in, who am I' },
        { name: TAGS.catalog, description: 'Products and categories, with live availability' },
        { name: TAGS.inventory, description: 'Stock per SKU' },
        { name: TAGS.cart, description: "The caller's cart" },
        { name: TAGS.orders, description: 'Checkout and orders' },
        { name: TAGS.payments, description: 'Payment provider webhooks' },
        { name: TAGS.admin, description: 'Operator routes (admin role)' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The token from register or login' },
        },
      },
    },
    hideUntagged: true,
    // Shared schemas (app.addSchema) appear in components under their $id, e.g. `Problem`.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX });
  app.get(OPENAPI_JSON_PATH, { schema: { hide: true } }, async () => app.swagger());
}
