import { Ajv } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import type { FieldError } from '@agora/kernel';

// ajv-formats ships CommonJS with `exports.default`; under nodenext the callable is that member.
type AddFormats = (ajv: Ajv) => Ajv;
const addFormats: AddFormats = ((ajvFormats as unknown as { default: { default?: AddFormats } & AddFormats }).default.default ??
  (ajvFormats as unknown as { default: AddFormats }).default);

function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    coerceTypes: coerce ? 'array' : false,
    useDefaults: true,
    removeAdditional: true,
    allErrors: true,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

/**
 * Bodies are validated strictly: `{"quantity": "3"}` is a type error naming the field, not a 3.
 * Query strings, params and headers are text on the wire, so they are coerced.
 */
const strictAjv = makeAjv(false);
const coercingAjv = makeAjv(true);

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? strictAjv : coercingAjv;
  const validate = ajv.compile(schema as object);
  return (data: unknown) => {
    const valid = validate(data);
    return valid ? { value: data } : { error: Object.assign(new Error('validation failed'), { validation: validate.errors ?? [] }) };
  };
};

/** `/variants/0/sku` → `variants[0].sku`; a missing property is named itself. */
export function fieldPath(error: Pick<FastifySchemaValidationError, 'instancePath' | 'params' | 'keyword'>, prefix?: string): string {
  const parts = error.instancePath.split('/').filter((p) => p.length > 0).map((p: string) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required' && typeof params.missingProperty === 'string') parts.push(params.missingProperty);
  if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') parts.push(params.additionalProperty);
  let path = '';
  for (const part of parts) {
    if (/^\d+$/.test(part)) path += `[${part}]`;
    else path += path.length === 0 ? part : `.${part}`;
  }
  if (path.length === 0) return prefix ?? 'body';
  return path;
}

export function fieldErrors(errors: readonly FastifySchemaValidationError[], context: string): FieldError[] {
  const seen = new Set<string>();
  const result: FieldError[] = [];
  for (const error of errors) {
    // anyOf/oneOf produce a summary error besides the specific ones; the specific ones say more.
    if (error.keyword === 'anyOf' || error.keyword === 'oneOf' || error.keyword === 'if') continue;
    const path = fieldPath(error, context === 'body' ? 'body' : context);
    const message = error.message ?? 'is invalid';
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.push({ path, message });
  }
  return result.length > 0 ? result : [{ path: context, message: 'is invalid' }];
}
