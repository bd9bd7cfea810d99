import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../src/openapi-document.js';
import { lintOpenApiDocument } from '../src/openapi-lint.js';

/** Every status an operation answers with a body, as the document lists them. */
interface Operation {
  operationId: string;
  security?: unknown[];
  requestBody?: { content: Record<string, { example?: unknown; examples?: unknown }> };
  responses: Record<string, { content?: Record<string, { example?: unknown; examples?: unknown }> }>;
}

/** The public operations: what a shopper can call without a token. */
const PUBLIC_OPERATIONS = ['register', 'login', 'listProducts', 'getProduct', 'listCategories', 'getAvailability', 'paymentWebhook'];

async function operations(): Promise<Operation[]> {
  const doc = (await buildOpenApiDocument()) as { paths: Record<string, Record<string, Operation>> };
  return Object.values(doc.paths).flatMap((methods) => Object.values(methods));
}

describe('the published OpenAPI document', () => {
  it('passes Redocly’s recommended rules (redocly.yaml) with no error', async () => {
    const result = await lintOpenApiDocument();
    expect(result.output).toMatch(/validated in/);
    expect(result.ok, result.output).toBe(true);
  });

  it('says explicitly which operations need no token, and lists specific 4xx answers beside the catch-all', async () => {
    const ops = await operations();
    const publicOps = ops.filter((op) => op.security?.length === 0).map((op) => op.operationId);
    expect(publicOps).toEqual(expect.arrayContaining(PUBLIC_OPERATIONS));
    for (const op of ops) {
      expect(op.security, op.operationId).toBeDefined();
      const statuses = Object.keys(op.responses);
      expect(statuses.filter((s) => /^4\d\d$/.test(s)).length, op.operationId).toBeGreaterThan(0);
      expect(statuses, op.operationId).toContain('4XX');
      // The access guard's 401 is listed exactly where a token is needed.
      const unauthenticated = (op.responses['401']?.content?.['application/problem+json']?.examples ?? {}) as Record<string, unknown>;
      expect('UNAUTHENTICATED' in unauthenticated, op.operationId).toBe(!publicOps.includes(op.operationId));
    }
  });

  it('has an example for every request and response body', async () => {
    for (const op of await operations()) {
      type Media = { example?: unknown; examples?: unknown };
      const bodies: [string, string, Media][] = Object.entries(op.requestBody?.content ?? {}).map(([type, media]) => ['request', type, media]);
      for (const [status, response] of Object.entries(op.responses)) {
        for (const [type, media] of Object.entries(response.content ?? {})) bodies.push([status, type, media]);
      }
      for (const [where, type, media] of bodies) {
        // A missing one: give the body schema `withExample(...)`, the response `ok(..., example)` (schemas.ts).
        expect(media.example !== undefined || media.examples !== undefined, `${op.operationId} ${where} ${type} has no example`).toBe(true);
      }
    }
  });
});
