import { fastifySwagger } from '@fastify/swagger';
import { fastifySwaggerUi } from '@fastify/swagger-ui';
import type { FastifySchema } from 'fastify';
import type { ErrorCode } from '@agora/kernel';
import type { HttpApp } from '@agora/platform';
import { addProblem } from './schemas.js';

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

/** Methods whose requests carry a body: the gateway answers 413 and 415 for them before any route code. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

interface RouteDeclaration {
  schema?: Record<string, unknown> & { security?: unknown; response?: Record<string, unknown>; hide?: boolean };
  url: string;
  route: { method: string | string[]; config?: unknown };
}

/**
 * What the gateway itself answers for a route, read from the same declarations its guards use:
 * `config.access` (the auth hook), the input schemas (validation) and the method (body limits).
 * Rate limits cover every API route; they are on unless AGORA_RATE_LIMITS=off.
 */
function gatewayProblems(declaration: RouteDeclaration, access: string): ErrorCode[] {
  const { schema, route } = declaration;
  const codes: ErrorCode[] = [];
  if (schema?.body || schema?.querystring || schema?.params || schema?.headers) codes.push('VALIDATION_FAILED');
  if (access !== 'public') codes.push('UNAUTHENTICATED');
  if (access === 'admin') codes.push('FORBIDDEN');
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (methods.some((m) => BODY_METHODS.has(m.toUpperCase()))) codes.push('PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE');
  codes.push('RATE_LIMITED');
  return codes;
}

/**
 * Completes each operation from its declaration: `security: []` on a public one (the document
 * says explicitly that it needs no token) and the gateway's own error answers beside the ones the
 * route lists for its service.
 */
export function describeOperation(declaration: RouteDeclaration): { schema: FastifySchema; url: string } {
  const { schema, url, route } = declaration;
  if (!schema || schema.hide) return { schema: schema as FastifySchema, url };
  const config = route.config as { access?: string } | undefined;
  const access = config?.access ?? 'public';
  const response = { ...schema.response };
  for (const code of gatewayProblems(declaration, access)) addProblem(response, code);
  const security = access === 'public' && schema.security === undefined ? { security: [] } : {};
  return { schema: { ...schema, ...security, response } as FastifySchema, url };
}

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
      // Relative: the API is wherever the gateway serving this document is (any of a cluster's).
      servers: [{ url: '/', description: 'The gateway serving this document' }],
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
    transform: (declaration) => describeOperation(declaration as unknown as RouteDeclaration),
    // Shared schemas (app.addSchema) appear in components under their $id, e.g. `Problem`.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX });
  app.get(OPENAPI_JSON_PATH, { schema: { hide: true } }, async () => app.swagger());
}
