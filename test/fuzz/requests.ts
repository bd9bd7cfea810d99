import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { payment } from '@agora/contracts';
import { WEBHOOK_SECRET } from '../support/system.js';
import { CONTENT_TYPES, INVALID_UTF8, MALFORMED_BODIES, anyJsonValue, hostileHeaderValue, hostileString, oddHeaders, toJsonText } from './hostile.js';
import { bodyFor, fillPath, validValue, wrongValue, type JsonSchema, type Operation, type Parameter, type ValuePool } from './openapi.js';
import type { WireRequest } from './wire.js';

/** A generated request and what the runner still does to it when sending (webhook signatures carry the send time). */
export interface FuzzCase {
  /** The operation it exercises (operationId), or `stray` / `service:<name>`. */
  target: string;
  request: WireRequest;
  /** Sign the body as the payment provider would: with the right secret now, long ago, or with another secret. */
  sign?: 'valid' | 'stale' | 'wrong-secret';
  /** On a service port: send a caller assertion made at send time, for a user, an admin, the gateway itself, or a forged one. */
  assertAs?: 'customer' | 'admin' | 'service' | 'forged';
}

/** Percent-encodes any string, lone surrogates included (as the UTF-8 of U+FFFD, which is what a client would send). */
export function encodeSegment(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return [...Buffer.from(value, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
  }
}

/** Path segments written raw: traversal, bad or partial percent-encoding, separators, an over-long segment. */
export const RAW_SEGMENTS: readonly string[] = ['..', '.', '%2e%2e', '..%2f..%2fadmin', '%2F', '%ff', '%00', '%E0%A4%A', '%ED%A0%BD', '%', '%%', 'a'.repeat(250), '%u0041', ';', '%3B', '?', '#x', '%20', '+', '*'];

/** Query pieces no route declares: prototype keys, repeats, arrays, bad encodings. */
const STRAY_QUERY: readonly string[] = [
  '__proto__[role]=admin',
  'constructor[prototype][role]=admin',
  '__proto__=x',
  'limit=1&limit=2',
  'q[]=a&q[]=b',
  '&&&=',
  '%zz=1',
  'a=%00',
  '=x',
  'limit',
  `cursor=${'A'.repeat(600)}`,
  'status=CONFIRMED&status=PENDING',
];

function wireText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return toJsonText(value);
}

function paramValue(param: Parameter, pool: ValuePool): fc.Arbitrary<string> {
  const valid = validValue(param.schema, param.name, pool).map((v) => encodeSegment(wireText(v)));
  const wrong = wrongValue(param.schema).map((v) => encodeSegment(wireText(v)));
  if (param.in === 'path') return fc.oneof({ weight: 5, arbitrary: valid }, { weight: 4, arbitrary: wrong }, { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS) });
  return fc.oneof({ weight: 5, arbitrary: valid }, { weight: 4, arbitrary: wrong }, { weight: 1, arbitrary: fc.constantFrom('%ff', '%00', '%', '%E0%A4%A', '%ED%A0%BD', '+') });
}

function queryFor(params: Parameter[], pool: ValuePool): fc.Arbitrary<string> {
  const declared = params.filter((p) => p.in === 'query');
  const pieces = declared.map((p) => fc.option(paramValue(p, pool).map((v) => `${encodeURIComponent(p.name)}=${v}`), { nil: undefined, freq: 2 }));
  return fc.tuple(fc.tuple(...pieces), fc.subarray([...STRAY_QUERY], { maxLength: 2 })).map(([own, stray]) => {
    const all = [...own.filter((p): p is string => p !== undefined), ...stray];
    return all.length > 0 ? `?${all.join('&')}` : '';
  });
}

function headerParam(param: Parameter, pool: ValuePool): fc.Arbitrary<string | undefined> {
  const valid = param.name === 'idempotency-key' ? fc.uuid() : validValue(param.schema, param.name, pool).map(wireText);
  const present = fc.oneof({ weight: 4, arbitrary: valid }, { weight: 2, arbitrary: hostileHeaderValue }, { weight: 1, arbitrary: fc.constant('x'.repeat(300)) });
  return param.required ? fc.oneof({ weight: 6, arbitrary: present }, { weight: 1, arbitrary: fc.constant(undefined) }) : fc.option(present, { nil: undefined });
}

/** Authorization header values by weight: the pool's tokens (real and forged) and malformed schemes. */
export interface Credentials {
  /** Real tokens: a customer, another customer, an admin. */
  valid: readonly string[];
  /** Forged, expired, tampered and malformed tokens. */
  forged: readonly string[];
}

function authorization(op: Operation | undefined, credentials: Credentials): fc.Arbitrary<string | undefined> {
  const bearer = (tokens: readonly string[]): fc.Arbitrary<string> => fc.constantFrom(...tokens).map((t) => `Bearer ${t}`);
  const odd = fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNzd29yZA==', 'bearer', `Bearer ${'x'.repeat(2_000)}`, 'Bearer a b', 'Token abc', '');
  const validWeight = op?.secured ? 7 : 1;
  return fc.oneof(
    { weight: validWeight, arbitrary: bearer(credentials.valid) },
    { weight: 2, arbitrary: bearer(credentials.forged) },
    { weight: 1, arbitrary: odd },
    { weight: op?.secured ? 1 : 6, arbitrary: fc.constant(undefined) },
  );
}

const contentType = fc.oneof({ weight: 12, arbitrary: fc.constant('application/json') }, { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) });

type Body = { body?: string | Buffer; type?: string };

function bodyOf(schema: JsonSchema | undefined, pool: ValuePool): fc.Arbitrary<Body> {
  const malformed = fc.constantFrom(...MALFORMED_BODIES);
  const text: fc.Arbitrary<string | Buffer> = schema
    ? fc.oneof({ weight: 8, arbitrary: bodyFor(schema, pool).map(toJsonText) }, { weight: 2, arbitrary: malformed }, { weight: 1, arbitrary: fc.constantFrom(...INVALID_UTF8) })
    : fc.oneof(malformed, anyJsonValue.map(toJsonText));
  const present = fc.record({ body: text, type: contentType }).map(({ body, type }) => (type === undefined ? { body } : { body, type }));
  return schema ? fc.oneof({ weight: 9, arbitrary: present }, { weight: 1, arbitrary: fc.constant({}) }) : fc.oneof({ weight: 8, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: present });
}

const OTHER_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const;

/** Requests against one operation of the published document. */
export function caseFor(op: Operation, pool: ValuePool, credentials: Credentials): fc.Arbitrary<FuzzCase> {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const pathArb = fc.tuple(...pathParams.map((p) => paramValue(p, pool))).map((values) => fillPath(op.path, Object.fromEntries(pathParams.map((p, i) => [p.name, values[i] ?? '']))));
  const headerParams = op.params.filter((p) => p.in === 'header' && p.name !== payment.WEBHOOK_SIGNATURE_HEADER);
  const headersArb = fc.tuple(...headerParams.map((p) => headerParam(p, pool))).map((values) => {
    const headers: Record<string, string> = {};
    headerParams.forEach((p, i) => {
      const value = values[i];
      if (value !== undefined) headers[p.name] = value;
    });
    return headers;
  });
  const webhook = op.id === 'paymentWebhook';
  const bodyArb = webhook ? bodyOf(payment.WebhookEvent as unknown as JsonSchema, pool) : bodyOf(op.body, pool);
  const signArb = webhook ? fc.constantFrom<FuzzCase['sign'] | undefined>('valid', 'stale', 'wrong-secret', undefined) : fc.constant(undefined);
  const signatureHeader = webhook ? fc.option(hostileHeaderValue.map((v) => v.slice(0, 600)), { nil: undefined }) : fc.constant(undefined);
  return fc
    .record({
      method: fc.oneof({ weight: 9, arbitrary: fc.constant(op.method) }, { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) }),
      path: pathArb,
      query: queryFor(op.params, pool),
      headers: headersArb,
      auth: authorization(op, credentials),
      odd: oddHeaders,
      body: bodyArb,
      sign: signArb,
      signature: signatureHeader,
    })
    .map(({ method, path, query, headers, auth, odd, body, sign, signature }) => {
      const all: Record<string, string> = { ...odd, ...headers };
      if (auth !== undefined) all.authorization = auth;
      if (body.type !== undefined && body.body !== undefined) all['content-type'] = body.type;
      if (signature !== undefined && sign === undefined) all[payment.WEBHOOK_SIGNATURE_HEADER] = signature;
      const request: WireRequest = { method, path: `${path}${query}`, headers: all, ...(body.body === undefined ? {} : { body: body.body }) };
      return sign === undefined ? { target: op.id, request } : { target: op.id, request, sign };
    });
}

/** Paths no operation declares: traversal, doubled slashes, other versions, case, files. */
const STRAY_PATHS: readonly string[] = [
  '/api/v2/products',
  '/api/v1/admin/../products',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/api/v1/products/../../../etc/passwd',
  '//api//v1//products',
  '/API/V1/PRODUCTS',
  '/api/v1/products;jsessionid=1',
  '/api/v1/products%3Fq=1',
  '/.env',
  '/api/openapi.json/..',
  '/api/v1/admin',
  '/api/v1/admin/',
  '/api/v1/admin/users',
  '/api/v1/%ff',
  '/api/v1/%00',
  '/api/v1/orders/%2e%2e%2fadmin%2forders',
  '/api/v1/cart/items/',
  `/api/v1/${'a/'.repeat(500)}`,
  '/api/v1/__proto__',
  '/api/v1/constructor/prototype',
  '*',
];

export function strayCase(credentials: Credentials): fc.Arbitrary<FuzzCase> {
  return fc
    .record({
      method: fc.constantFrom(...OTHER_METHODS),
      path: fc.oneof(fc.constantFrom(...STRAY_PATHS), hostileString.filter((s) => s.length < 300).map((s) => `/api/v1/${encodeSegment(s)}`)),
      auth: authorization(undefined, credentials),
      odd: oddHeaders,
    })
    .map(({ method, path, auth, odd }) => ({ target: 'stray', request: { method, path, headers: { ...odd, ...(auth === undefined ? {} : { authorization: auth }) } } }));
}

/** The `agora-signature` header for `body` at `seconds` with `secret`. */
export function webhookSignature(body: string | Buffer, seconds: number, secret: string): string {
  return `t=${seconds},v1=${createHmac('sha256', secret).update(`${seconds}.`).update(body).digest('hex')}`;
}

/** The request as it goes out: webhook signatures made now. */
export function prepared(fuzz: FuzzCase): WireRequest {
  if (fuzz.sign === undefined) return fuzz.request;
  const body = fuzz.request.body ?? '';
  const now = Math.floor(Date.now() / 1000);
  const signature =
    fuzz.sign === 'valid' ? webhookSignature(body, now, WEBHOOK_SECRET) : fuzz.sign === 'stale' ? webhookSignature(body, now - 24 * 3_600, WEBHOOK_SECRET) : webhookSignature(body, now, 'another-secret');
  return { ...fuzz.request, headers: { ...fuzz.request.headers, [payment.WEBHOOK_SIGNATURE_HEADER]: signature } };
}

/** Methods that may change state when they succeed. */
export const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Answers that refuse the request, which must leave the state as it was. 402 and 409 are business
 * outcomes, not refusals: a declined payment or short stock records the order (PAYMENT_FAILED,
 * REJECTED) by design, so they do not count here.
 */
export const REFUSALS = new Set([400, 401, 403, 404, 405, 406, 411, 413, 414, 415, 417, 422, 429, 431]);

/** 409 codes that record something (a REJECTED order); any other 409 (CART_EMPTY, EMAIL_TAKEN, CONFLICT, ...) is a refusal. */
const RECORDING_CONFLICTS = new Set(['OUT_OF_STOCK', 'SOLD_OUT']);

/** Whether an answer refused its request, so the request must have changed nothing. */
export function refused(status: number, text: string): boolean {
  if (REFUSALS.has(status)) return true;
  if (status !== 409) return false;
  try {
    const { code } = JSON.parse(text) as { code?: unknown };
    return typeof code === 'string' && !RECORDING_CONFLICTS.has(code);
  } catch {
    return false;
  }
}

/** A route of a service's own Fastify app. */
export interface ServiceRoute {
  method: string;
  /** Fastify form: `/reservations/:id/commit`. */
  path: string;
}

/** The routes of a Fastify app, read from its printRoutes() tree (so a new service route is fuzzed without a line here). */
export function routesOfTree(tree: string): ServiceRoute[] {
  const routes: ServiceRoute[] = [];
  const segments: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^(.*?)(?:├── |└── )(\S+)(?: \(([^)]*)\))?/.exec(line);
    if (!match) continue;
    const depth = Math.round((match[1] ?? '').length / 4);
    segments.length = depth;
    segments[depth] = match[2] ?? '';
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim())) {
      if (method !== '' && method !== 'HEAD') routes.push({ method, path: segments.join('') });
    }
  }
  return routes;
}

/** Body keys the services' own routes read, to get past "unknown property" into their logic. */
const SERVICE_BODY_KEYS = ['sku', 'skus', 'quantity', 'onHand', 'lines', 'id', 'ids', 'orderId', 'userId', 'items', 'name', 'variants', 'reservationId', 'ttlSeconds', 'amount', '__proto__'];

/** Requests straight to a service port: its routes, with caller headers real, spoofed or absent. */
export function serviceCase(service: string, route: ServiceRoute, pool: ValuePool, callerIds: readonly string[]): fc.Arbitrary<FuzzCase> {
  const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1] as string);
  const valueFor = (name: string): fc.Arbitrary<string> => {
    const known = (pool[name] ?? pool.id ?? []) as string[];
    return fc.oneof(
      { weight: 4, arbitrary: known.length > 0 ? fc.constantFrom(...known).map(encodeSegment) : fc.uuid() },
      { weight: 3, arbitrary: hostileString.map(encodeSegment) },
      { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
    );
  };
  const body = fc.oneof(
    { weight: 5, arbitrary: fc.dictionary(fc.constantFrom(...SERVICE_BODY_KEYS), fc.oneof(anyJsonValue, fc.constantFrom(...((pool.sku ?? []) as string[])), fc.integer({ min: 1, max: 5 })), { maxKeys: 4 }).map(toJsonText) },
    { weight: 1, arbitrary: fc.constantFrom(...MALFORMED_BODIES) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
  return fc
    .record({
      method: fc.oneof({ weight: 9, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) }),
      values: fc.tuple(...names.map(valueFor)),
      query: fc.subarray([...STRAY_QUERY, 'skus=a,b', `skus=${encodeSegment(((pool.sku ?? []) as string[]).join(','))}`], { maxLength: 2 }),
      assertAs: fc.constantFrom<FuzzCase['assertAs'] | undefined>('customer', 'customer', 'admin', 'service', 'forged', undefined),
      userId: fc.option(fc.oneof(fc.constantFrom(...callerIds), hostileHeaderValue), { nil: undefined }),
      role: fc.option(fc.constantFrom('admin', 'customer', 'root', ''), { nil: undefined }),
      odd: oddHeaders,
      body,
      type: contentType,
    })
    .map(({ method, values, query, assertAs, userId, role, odd, body: text, type }) => {
      let i = 0;
      const path = route.path.replace(/:(\w+)/g, () => values[i++] ?? '');
      const headers: Record<string, string> = { ...odd };
      if (userId !== undefined) headers['x-agora-user-id'] = userId;
      if (role !== undefined) headers['x-agora-user-role'] = role;
      if (text !== undefined && type !== undefined) headers['content-type'] = type;
      const request: WireRequest = { method, path: `${path}${query.length > 0 ? `?${query.join('&')}` : ''}`, headers, ...(text === undefined ? {} : { body: text }) };
      return { target: `service:${service} ${route.method} ${route.path}`, request, ...(assertAs === undefined ? {} : { assertAs }) };
    });
}
