import { humanFieldMessage } from './field-messages';

/**
 * The one way the app talks to the API: JSON in and out, the session's bearer token, and every
 * failure turned into an ApiError carrying the problem+json body (`code`, `detail`, `errors`).
 */
export interface FieldError {
  path: string;
  message: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
    /** The whole body: a declined checkout carries the failed `order` beside the problem. */
    readonly body: unknown,
  ) {
    super(problem.detail);
    this.name = 'ApiError';
  }

  get code(): string {
    return this.problem.code;
  }

  /** Field errors keyed by their path (`shippingAddress.city`, `variants[0].sku`). */
  fieldErrors(): Record<string, string> {
    const byPath: Record<string, string> = {};
    for (const e of this.problem.errors ?? []) byPath[e.path] ??= humanFieldMessage(e.message);
    return byPath;
  }
}

export const NETWORK_ERROR = 'NETWORK';

export interface RequestOptions {
  body?: unknown;
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

type TokenSource = () => string | undefined;
type UnauthorizedHandler = () => void;

let tokenSource: TokenSource = () => undefined;
let onUnauthorized: UnauthorizedHandler = () => undefined;

/** The session module plugs in here (it imports this module, not the other way round). */
export function configureAuth(source: TokenSource, unauthorized: UnauthorizedHandler): void {
  tokenSource = source;
  onUnauthorized = unauthorized;
}

function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && 'code' in value && typeof value.code === 'string';
}

function describeStatus(status: number): string {
  if (status === 429) return 'Too many requests. Please wait a moment and try again.';
  if (status >= 500) return 'The shop could not answer just now. Please try again in a moment.';
  return `The request failed (HTTP ${status}).`;
}

async function readBody(response: Response): Promise<unknown> {
  const type = response.headers.get('content-type') ?? '';
  if (!type.includes('json')) return undefined;
  const text = await response.text();
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined; // a non-JSON body under a JSON type: reported by status below
  }
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = tokenSource();
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, { status: 0, code: NETWORK_ERROR, detail: 'Could not reach the shop. Check your connection and try again.' }, undefined);
  }
  const body = await readBody(response);
  if (!response.ok) {
    const problem: Problem = isProblem(body) ? body : { status: response.status, code: `HTTP_${response.status}`, detail: describeStatus(response.status) };
    if (response.status === 401 && token) onUnauthorized();
    throw new ApiError(response.status, problem, body);
  }
  return { status: response.status, body: body as T };
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>('GET', path, options).then((r) => r.body),
  post: <T>(path: string, body?: unknown, options: RequestOptions = {}) => request<T>('POST', path, { ...options, body }),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, { body }).then((r) => r.body),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, { body }).then((r) => r.body),
  delete: <T>(path: string) => request<T>('DELETE', path).then((r) => r.body),
};

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

/** A message for any failure, for places that show one line. */
export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.problem.detail || err.problem.title || 'Something went wrong.';
  if (err instanceof Error) return err.message;
  return 'Something went wrong.';
}

export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}
