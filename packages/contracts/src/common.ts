import { Type, type Static } from 'typebox';
import { LIMITS } from '@agora/kernel';

export const Uuid = Type.String({ format: 'uuid', description: 'UUID' });
export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601 UTC' });

export const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' });
export const MoneySchema = Type.Object(
  {
    amount: Type.Integer({ minimum: 0, maximum: 1_000_000_000_00, description: 'integer minor units' }),
    currency: Currency,
  },
  { additionalProperties: false },
);
export type MoneyDto = Static<typeof MoneySchema>;

export const FieldErrorSchema = Type.Object({ path: Type.String(), message: Type.String() });
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    errors: Type.Optional(Type.Array(FieldErrorSchema)),
  },
  { description: 'RFC 9457 problem details', additionalProperties: true },
);

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.pageSizeMax, default: LIMITS.pageSizeDefault })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.cursorChars })),
};

export const pageOf = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const IdParams = Type.Object({ id: Uuid });
