/**
 * Typed errors. Each code has one HTTP status; `toProblem` is the one place an error becomes
 * RFC 9457 problem+json, whichever service or the gateway raised it.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  INVALID_SIGNATURE: 401,
  PAYMENT_DECLINED: 402,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  EMAIL_TAKEN: 409,
  OUT_OF_STOCK: 409,
  CART_EMPTY: 409,
  SOLD_OUT: 409,
  SALE_NOT_ACTIVE: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_MISMATCH: 422,
  RATE_LIMITED: 429,
  LIMIT_EXCEEDED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

const TITLES: Record<ErrorCode, string> = {
  VALIDATION_FAILED: 'Validation failed',
  UNAUTHENTICATED: 'Authentication required',
  INVALID_CREDENTIALS: 'Invalid credentials',
  INVALID_SIGNATURE: 'Invalid signature',
  PAYMENT_DECLINED: 'Payment declined',
  FORBIDDEN: 'Forbidden',
  NOT_FOUND: 'Not found',
  CONFLICT: 'Conflict',
  EMAIL_TAKEN: 'E-mail already registered',
  OUT_OF_STOCK: 'Out of stock',
  CART_EMPTY: 'Cart is empty',
  SOLD_OUT: 'Sold out',
  SALE_NOT_ACTIVE: 'Sale not active',
  PAYLOAD_TOO_LARGE: 'Payload too large',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  IDEMPOTENCY_MISMATCH: 'Idempotency key reused with another request',
  RATE_LIMITED: 'Too many requests',
  LIMIT_EXCEEDED: 'Limit exceeded',
  INTERNAL: 'Internal error',
  UNAVAILABLE: 'Service unavailable',
};

export interface FieldError {
  path: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: FieldError[];
  [extra: string]: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  /** Extra members merged into the problem document (e.g. the rejected order). */
  readonly extras: Record<string, unknown> | undefined;
  /** Seconds a client should wait before retrying (429/503). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    detail: string,
    options: { errors?: FieldError[]; extras?: Record<string, unknown>; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.errors = options.errors;
    this.extras = options.extras;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export const validationError = (errors: FieldError[], detail?: string): AppError =>
  new AppError('VALIDATION_FAILED', detail ?? errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });

export const notFound = (what: string): AppError => new AppError('NOT_FOUND', `${what} not found`);

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

export function problemOf(code: ErrorCode, detail: string, errors?: FieldError[], extras?: Record<string, unknown>): Problem {
  const problem: Problem = {
    ...extras,
    type: `https://agora.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[code],
    status: ERROR_STATUS[code],
    detail,
    code,
  };
  if (errors && errors.length > 0) problem.errors = errors;
  return problem;
}

/** Unknown errors become a 500 with no internals leaked; the caller logs the original. */
export function toProblem(err: unknown): Problem {
  if (err instanceof AppError) return problemOf(err.code, err.message, err.errors, err.extras);
  return problemOf('INTERNAL', 'An unexpected error occurred; it has been logged.');
}

export function isProblem(value: unknown): value is Problem {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.status === 'number' && typeof v.code === 'string' && v.code in ERROR_STATUS;
}

/** Rebuilds the typed error from a problem document another service answered with. */
export function fromProblem(problem: Problem): AppError {
  const { type: _t, title: _ti, status: _s, detail, code, errors, ...extras } = problem;
  return new AppError(code, detail, { ...(errors ? { errors } : {}), ...(Object.keys(extras).length ? { extras } : {}) });
}
