import { Type, type TSchema } from 'typebox';
import { LIMITS } from '@agora/kernel';
import { ProblemSchema } from '@agora/contracts';
import { PROBLEM_CONTENT_TYPE } from '@agora/platform';

/** OpenAPI security requirement for routes that need `Authorization: Bearer <token>`. */
export const BEARER_SECURITY = [{ bearerAuth: [] }];

/** Accepted on creating POSTs (API.md): a replay with the same key returns the first answer. */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: LIMITS.idempotencyKeyChars, description: 'Replays with the same key and body return the first response' }),
  ),
});

/** Registered once with the app so the document lists it under components instead of inline everywhere. */
export const PROBLEM_SCHEMA_ID = 'Problem';
export const SharedProblemSchema = { ...ProblemSchema, $id: PROBLEM_SCHEMA_ID };

const problemContent = { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: `${PROBLEM_SCHEMA_ID}#` } } };

/**
 * Error answers as the document shows them. The gateway relays bodies unchanged (response schemas
 * document, they do not re-serialize: see `createGateway`), so problems keep every member.
 */
export const PROBLEM_RESPONSES = {
  '4xx': { description: 'Client error: problem+json with a stable `code` (VALIDATION_FAILED names the field)', content: problemContent },
  '5xx': { description: 'Server error, or a service unavailable (UNAVAILABLE names it)', content: problemContent },
};

/** A success response with a description for the document. */
export function ok<T extends TSchema>(description: string, schema: T): { description: string; content: { 'application/json': { schema: T } } } {
  return { description, content: { 'application/json': { schema } } };
}
