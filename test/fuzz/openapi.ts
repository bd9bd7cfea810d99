import fc from 'fast-check';
import { RAW_NUMBERS, RawJson, anyJsonValue, hostileString } from './hostile.js';

/** The part of JSON Schema the published document uses. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minProperties?: number;
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: JsonSchema;
}

/** One operation of the published OpenAPI document, as the fuzzers read it. */
export interface Operation {
  id: string;
  method: string;
  /** OpenAPI template, e.g. `/api/v1/orders/{id}`. */
  path: string;
  params: Parameter[];
  body: JsonSchema | undefined;
  /** Declares bearer security: a signed-in caller is needed. */
  secured: boolean;
  /** Under /api/v1/admin or tagged admin: the admin role is needed. */
  admin: boolean;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId?: string; parameters?: Parameter[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> }; security?: unknown[]; tags?: string[] }>>;
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);

/** Every operation of the document: what a new route adds to the sweep without a line here. */
export function operationsOf(document: unknown): Operation[] {
  const doc = document as OpenApiDocument;
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      operations.push({
        id: op.operationId ?? `${method} ${path}`,
        method: method.toUpperCase(),
        path,
        params: op.parameters ?? [],
        body: op.requestBody?.content?.['application/json']?.schema,
        secured: (op.security ?? []).length > 0,
        admin: path.startsWith('/api/v1/admin/') || (op.tags ?? []).includes('admin'),
      });
    }
  }
  return operations;
}

/** `/api/v1/orders/{id}` with the given (already encoded) segments. */
export function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? 'missing');
}

/** Known-good values by field name (SKUs that exist, an address country, a card token), so valid requests go deep. */
export type ValuePool = Record<string, readonly unknown[]>;

function stringFor(schema: JsonSchema, name: string, pool: ValuePool): fc.Arbitrary<string> {
  const known = pool[name];
  const fromPool = known && known.length > 0 ? fc.constantFrom(...(known as string[])) : undefined;
  let generated: fc.Arbitrary<string>;
  if (schema.enum) generated = fc.constantFrom(...(schema.enum as string[]));
  else if (schema.format === 'uuid') generated = fc.uuid();
  else if (schema.format === 'email') generated = fc.emailAddress().filter((e) => e.length <= (schema.maxLength ?? 254));
  else if (schema.pattern) {
    const min = schema.minLength ?? 0;
    const max = schema.maxLength ?? 64;
    generated = fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= min && s.length <= max);
  } else generated = fc.string({ minLength: Math.max(schema.minLength ?? 0, 1), maxLength: Math.min(schema.maxLength ?? 40, 40) });
  return fromPool ? fc.oneof({ weight: 3, arbitrary: fromPool }, { weight: 1, arbitrary: generated }) : generated;
}

/** A value the schema accepts (preferring pooled values by field name). */
export function validValue(schema: JsonSchema, name: string, pool: ValuePool): fc.Arbitrary<unknown> {
  const options = schema.anyOf ?? schema.oneOf;
  if (options) return fc.oneof(...options.map((s) => validValue(s, name, pool)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'object': {
      const props = schema.properties ?? {};
      const required = new Set(schema.required ?? []);
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, sub] of Object.entries(props)) model[key] = validValue(sub, key, pool);
      const requiredKeys = [...required].filter((k) => k in model);
      const minProps = schema.minProperties ?? 0;
      const record = fc.record(model, { requiredKeys });
      return minProps > 0 ? record.filter((r) => Object.keys(r).length >= minProps) : record;
    }
    case 'array':
      return fc.array(validValue(schema.items ?? {}, name, pool), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 3, 3) });
    case 'integer': {
      const known = pool[name];
      const generated = fc.integer({ min: schema.minimum ?? -1_000, max: Math.min(schema.maximum ?? 1_000, 1_000_000) });
      return known ? fc.oneof(fc.constantFrom(...known), generated) : generated;
    }
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'string':
      return stringFor(schema, name, pool);
    default:
      return anyJsonValue;
  }
}

/** What can be wrong with a field of this schema: another type, an edge number, a hostile string. */
export function wrongValue(schema: JsonSchema): fc.Arbitrary<unknown> {
  if (schema.type === 'integer' || schema.type === 'number') {
    return fc.oneof(
      fc.constantFrom(-1, -0, 0.5, 1.5, (schema.maximum ?? 0) + 1, (schema.minimum ?? 0) - 1, Number.MAX_SAFE_INTEGER + 1, 1e308, -1e308, 2 ** 63),
      fc.constantFrom(...RAW_NUMBERS),
      fc.constantFrom('1', 'NaN', '-0', '1e308', '9007199254740992', ''),
      anyJsonValue,
    );
  }
  if (schema.type === 'string') {
    return fc.oneof({ weight: 3, arbitrary: hostileString }, { weight: 1, arbitrary: anyJsonValue });
  }
  return anyJsonValue;
}

type Path = (string | number)[];

function subSchema(schema: JsonSchema, path: Path): JsonSchema {
  let current: JsonSchema = schema;
  for (const step of path) {
    if (typeof step === 'number') current = current.items ?? {};
    else current = current.properties?.[step] ?? {};
  }
  return current;
}

/** The paths of every value inside `value`, root first. */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (value instanceof RawJson) return out;
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

function clone(value: unknown): unknown {
  if (value instanceof RawJson) return value;
  if (Array.isArray(value)) return value.map(clone);
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(copy, k, { value: clone(v), enumerable: true, writable: true, configurable: true });
    return copy;
  }
  return value;
}

function setAt(root: unknown, path: Path, replacement: unknown, mode: 'replace' | 'delete' | 'extra'): unknown {
  if (path.length === 0) return mode === 'replace' ? replacement : root;
  const copy = clone(root);
  let parent = copy as Record<string | number, unknown>;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (mode === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else if (mode === 'extra') {
    const target = parent[last];
    if (typeof target === 'object' && target !== null && !Array.isArray(target) && !(target instanceof RawJson)) {
      const [key, value] = replacement as [string, unknown];
      Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
    }
  } else parent[last] = replacement;
  return copy;
}

/**
 * A body for `schema`: valid, or valid with one field broken (wrong type, edge number, hostile
 * string, removed, an extra key such as `__proto__`), or anything at all.
 */
export function bodyFor(schema: JsonSchema, pool: ValuePool): fc.Arbitrary<unknown> {
  const valid = validValue(schema, 'body', pool);
  const mutated = valid.chain((value) => {
    const paths = pathsOf(value);
    return fc.constantFrom(...paths).chain((path) =>
      fc.oneof(
        { weight: 4, arbitrary: wrongValue(subSchema(schema, path)).map((wrong) => setAt(value, path, wrong, 'replace')) },
        { weight: 1, arbitrary: fc.constant(setAt(value, path, undefined, 'delete')) },
        {
          weight: 1,
          arbitrary: fc
            .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'role', 'userId', 'isAdmin', '$where', 'x'.repeat(300)), anyJsonValue)
            .map((extra) => setAt({ root: value }, ['root', ...path], extra, 'extra'))
            .map((wrapped) => (wrapped as { root: unknown }).root),
        },
      ),
    );
  });
  return fc.oneof({ weight: 2, arbitrary: valid }, { weight: 6, arbitrary: mutated }, { weight: 1, arbitrary: anyJsonValue });
}
