import { Type, type Static, type TSchema } from 'typebox';
import { ERROR_STATUS, LIMITS, problemOf, type ErrorCode } from '@agora/kernel';
import { ProblemSchema } from '@agora/contracts';
import { PROBLEM_CONTENT_TYPE } from '@agora/platform';

/** OpenAPI security requirement for routes that need `Authorization: Bearer <token>`. */
export const BEARER_SECURITY = [{ bearerAuth: [] }];

/** Accepted on creating POSTs (see the OpenAPI document): a replay with the same key returns the first answer. */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: LIMITS.idempotencyKeyChars, description: 'Replays with the same key and body return the first response' }),
  ),
});

/** Registered once with the app so the document lists it under components instead of inline everywhere. */
export const PROBLEM_SCHEMA_ID = 'Problem';
export const SharedProblemSchema = { ...ProblemSchema, $id: PROBLEM_SCHEMA_ID };

const problemSchemaRef = { $ref: `${PROBLEM_SCHEMA_ID}#` };

/**
 * The catch-all error answers every operation lists after its specific ones. The gateway relays
 * bodies unchanged (response schemas document, they do not re-serialize: see `createGateway`), so
 * problems keep every member.
 */
export const PROBLEM_RESPONSES = {
  '4xx': {
    description: 'Any other client error: problem+json with a stable `code`',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: problemSchemaRef, example: problemOf('NOT_FOUND', 'Product 0190c6d2-7a1e-7c3b-9d4e-5f6a7b8c9d0e not found') } },
  },
  '5xx': {
    description: 'Server error, or a service unavailable (UNAVAILABLE names it; 503 carries Retry-After)',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: problemSchemaRef, example: problemOf('UNAVAILABLE', 'The catalog service is unavailable', undefined, { service: 'catalog' }) } },
  },
};

/** What each error code means in a response description, and the detail of its example. */
const PROBLEM_EXAMPLES: Record<ErrorCode, { when: string; detail: string; errors?: { path: string; message: string }[] }> = {
  VALIDATION_FAILED: { when: 'a parameter or the body does not match its schema', detail: 'body/quantity: must be >= 1', errors: [{ path: 'body/quantity', message: 'must be >= 1' }] },
  UNAUTHENTICATED: { when: 'no bearer token, or an invalid or expired one', detail: 'A valid bearer token is required' },
  INVALID_CREDENTIALS: { when: 'wrong e-mail or password', detail: 'E-mail or password is wrong' },
  INVALID_SIGNATURE: { when: 'the webhook signature is missing, stale or wrong', detail: 'Signature does not match the body' },
  PAYMENT_DECLINED: { when: 'the card was declined (the order, PAYMENT_FAILED, is in the body)', detail: 'The card was declined' },
  FORBIDDEN: { when: 'the caller is not an admin', detail: 'This operation needs the admin role' },
  NOT_FOUND: { when: 'no such resource (or not the caller’s)', detail: 'Product 0190c6d2-7a1e-7c3b-9d4e-5f6a7b8c9d0e not found' },
  CONFLICT: { when: 'the state does not allow it, or it changed meanwhile', detail: 'SKU TEE-BLK-M already belongs to another product' },
  EMAIL_TAKEN: { when: 'the e-mail is already registered', detail: 'ann@example.com is already registered' },
  OUT_OF_STOCK: { when: 'not enough stock (the order, REJECTED, is in the body)', detail: 'TEE-BLK-M: 2 requested, 1 available' },
  CART_EMPTY: { when: 'the cart has nothing to check out', detail: 'The cart is empty' },
  SOLD_OUT: { when: 'the sale is sold out', detail: 'The sale is sold out' },
  SALE_NOT_ACTIVE: { when: 'the sale is not running', detail: 'The sale has not started' },
  PAYLOAD_TOO_LARGE: { when: 'the body is over 1 MiB', detail: 'The body is larger than 1048576 bytes' },
  UNSUPPORTED_MEDIA_TYPE: { when: 'the body is not application/json', detail: 'Content-Type text/plain is not accepted; send application/json' },
  IDEMPOTENCY_MISMATCH: { when: 'the Idempotency-Key was used with another request', detail: 'This Idempotency-Key was used with a different request' },
  RATE_LIMITED: { when: 'too many requests (Retry-After says when to retry)', detail: 'Rate limit exceeded, retry in 1 minute' },
  LIMIT_EXCEEDED: { when: 'a size limit was reached', detail: 'A cart holds at most 100 lines' },
  INTERNAL: { when: 'an unexpected error', detail: 'Internal error' },
  UNAVAILABLE: { when: 'a service is unavailable', detail: 'The catalog service is unavailable' },
};

interface ProblemMedia {
  schema: typeof problemSchemaRef;
  examples: Record<string, { summary: string; value: unknown }>;
}
export interface ProblemResponse {
  description: string;
  content: { [PROBLEM_CONTENT_TYPE]: ProblemMedia };
}

/**
 * Adds `code` to `responses` under its HTTP status: a new response, or one more example (and
 * description line) on the one already there. Returns whether it added anything.
 */
export function addProblem(responses: Record<string, unknown>, code: ErrorCode): boolean {
  const status = String(ERROR_STATUS[code]);
  const { when, detail, errors } = PROBLEM_EXAMPLES[code];
  const example = { summary: when, value: problemOf(code, detail, errors) };
  const existing = responses[status] as ProblemResponse | undefined;
  if (existing?.content?.[PROBLEM_CONTENT_TYPE]?.examples) {
    if (code in existing.content[PROBLEM_CONTENT_TYPE].examples) return false;
    responses[status] = {
      description: `${existing.description}; ${code}: ${when}`,
      content: { [PROBLEM_CONTENT_TYPE]: { ...existing.content[PROBLEM_CONTENT_TYPE], examples: { ...existing.content[PROBLEM_CONTENT_TYPE].examples, [code]: example } } },
    };
    return true;
  }
  responses[status] = { description: `${code}: ${when}`, content: { [PROBLEM_CONTENT_TYPE]: { schema: problemSchemaRef, examples: { [code]: example } } } };
  return true;
}

/**
 * The error answers of an operation: the specific ones a route's service gives (`codes`, e.g.
 * NOT_FOUND), then the catch-alls. The gateway's own answers — 400 for input that fails its schema,
 * 401/403 from the access guard, 413/415 for bodies, 429 from the rate limits — are added to every
 * operation from its declaration when the document is built (`registerOpenApi`).
 */
export function problems(...codes: ErrorCode[]): typeof PROBLEM_RESPONSES {
  const responses: Record<string, unknown> = {};
  for (const code of codes) addProblem(responses, code);
  // Typed as the catch-alls alone: the type provider maps `4xx` to every 4xx status a handler may
  // set, which the specific statuses are among.
  return { ...responses, ...PROBLEM_RESPONSES };
}

/** `schema` with an example value (checked against the schema by the compiler and the document's linter). */
export function withExample<T extends TSchema>(schema: T, example: Static<T>): T {
  return { ...schema, examples: [example] };
}

/** A success response with a description and an example for the document. */
export function ok<T extends TSchema>(
  description: string,
  schema: T,
  example: Static<T>,
): { description: string; content: { 'application/json': { schema: T; example: Static<T> } } } {
  return { description, content: { 'application/json': { schema, example } } };
}
