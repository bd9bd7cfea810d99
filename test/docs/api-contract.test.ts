import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_STATUS, EnvReader } from '@agora/kernel';
import { Metrics, TokenService, createLogger, type ServiceTransport } from '@agora/platform';
import { OPENAPI_JSON_PATH, createGateway, loadGatewayConfig } from '@agora/gateway';
import { documentedErrorCodes, documentedRoutes, openApiPath, openApiRoutes, type DocumentedRoute } from './api-routes.js';
import { repositoryRoot } from './self-contained.js';

const API_PAGE = join(repositoryRoot(import.meta.url), 'docs', 'api.md');
/** Routes the page lists as coming later: they must not be served yet, and must be documented once they are. */
const PLANNED_SECTION = 'Planned, not served yet';

/** The document as the gateway serves it at /api/openapi.json, with no service behind it. */
async function servedDocument(): Promise<Parameters<typeof openApiRoutes>[0]> {
  const transport: ServiceTransport = { request: () => Promise.reject(new Error('no service is called to build the document')) };
  const app = await createGateway({
    transport,
    tokens: new TokenService(randomBytes(32).toString('base64url')),
    logger: createLogger('api-contract-test', 'silent'),
    metrics: new Metrics(false),
    config: loadGatewayConfig(new EnvReader({ AGORA_RATE_LIMITS: 'off' })),
    readiness: () => [],
    cluster: () => Promise.reject(new Error('no cluster behind this test')),
    shards: () => Promise.reject(new Error('no shards behind this test')),
  });
  try {
    const response = await app.inject({ method: 'GET', url: OPENAPI_JSON_PATH });
    expect(response.statusCode).toBe(200);
    return response.json<Parameters<typeof openApiRoutes>[0]>();
  } finally {
    await app.close();
  }
}

const key = (route: Pick<DocumentedRoute, 'method' | 'path'>): string => `${route.method} ${route.path}`;

describe('reading the route tables of docs/api.md', () => {
  it('takes method, path, section and the 2xx statuses of the answers cell', () => {
    const page = [
      '## Orders',
      '| method | path | auth | body | answers |',
      '|---|---|---|---|---|',
      '| POST | `/api/v1/checkout` | user | `{ payment }` (1..255) | `201 Order`; `202 Order`; 400; `409 CART_EMPTY` |',
      '| GET | `/api/v1/orders/:id?expand=` | user | — | `200 Order`; 404 |',
      'Not a row: | GET | `/nope` |',
      '## Later',
      '| GET | `/api/v1/tickets/:ticketId` | — | — | `200 { status: "A" \\| "B" }` |',
    ].join('\n');
    expect(documentedRoutes(page)).toEqual([
      { method: 'POST', path: '/api/v1/checkout', section: 'Orders', successes: [201, 202] },
      { method: 'GET', path: '/api/v1/orders/{id}', section: 'Orders', successes: [200] },
      { method: 'GET', path: '/api/v1/tickets/{ticketId}', section: 'Later', successes: [200] },
    ]);
    expect(openApiPath('/api/v1/admin/inventory/:sku')).toBe('/api/v1/admin/inventory/{sku}');
  });

  it('reads routes and their 2xx statuses from an OpenAPI document', () => {
    const document = {
      paths: {
        '/api/v1/checkout': { post: { responses: { '201': {}, '202': {}, '4xx': {} } }, parameters: {} },
        '/api/v1/me': { get: { responses: { '200': {}, '5xx': {} } } },
      },
    };
    expect(openApiRoutes(document)).toEqual({ 'POST /api/v1/checkout': [201, 202], 'GET /api/v1/me': [200] });
  });
});

describe('docs/api.md lists every error code with its status', () => {
  it('reads the error table', () => {
    const page = ['| status | code | when |', '|---|---|---|', '| 409 | `OUT_OF_STOCK` | short |', '| 429 | `RATE_LIMITED` | slow down |', 'text `NOT_A_ROW`'].join('\n');
    expect(documentedErrorCodes(page)).toEqual({ OUT_OF_STOCK: 409, RATE_LIMITED: 429 });
  });

  it('matches the codes the kernel maps to statuses, one for one', () => {
    expect(documentedErrorCodes(readFileSync(API_PAGE, 'utf8'))).toEqual({ ...ERROR_STATUS });
  });
});

describe('docs/api.md and the served OpenAPI document list the same routes', () => {
  it('documents every route the gateway serves, with the same success statuses, and serves no planned one', async () => {
    const documented = documentedRoutes(readFileSync(API_PAGE, 'utf8')).filter((route) => route.path.startsWith('/api/v1/'));
    const served = openApiRoutes(await servedDocument());
    // Not vacuous: the page and the document both hold the API.
    expect(Object.keys(served).length).toBeGreaterThan(20);

    const planned = documented.filter((route) => route.section === PLANNED_SECTION).map(key);
    const current = documented.filter((route) => route.section !== PLANNED_SECTION);
    expect(planned.filter((route) => route in served), 'served now: move these out of the planned section').toEqual([]);
    expect(current.map(key).sort(), 'every served route is on the page, and only those').toEqual(Object.keys(served).sort());
    for (const route of current) expect(route.successes, `${key(route)}: 2xx statuses on the page`).toEqual(served[key(route)] ?? []);
  });
});
