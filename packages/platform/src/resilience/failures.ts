import { isBrokenCircuitError } from 'cockatiel';

/**
 * What a failed attempt tells us about the request:
 * - `not-sent`: nothing can have reached a server (connection refused, DNS, connect timeout, open
 *   breaker): safe to send again, whatever the method.
 * - `maybe-sent`: the connection broke after the request may have been written (reset, closed
 *   socket): the server may have acted on it, so only idempotent calls go again.
 * - `timeout`: our per-attempt deadline passed; like `maybe-sent`.
 * - `other`: not a transport failure (a bug, a malformed answer): never retried, never held
 *   against the instance.
 */
export type FailureKind = 'not-sent' | 'maybe-sent' | 'timeout' | 'other';

/** Error codes raised before a request left this process (node's net/dns and undici's connector). */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  // ClientClosedError: raised at dispatch on a pool that is closing.
  'UND_ERR_CLOSED',
]);

/** Error codes of a connection that broke while a request was (or may have been) on it. */
const MAYBE_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_DESTROYED',
  'UND_ERR_ABORTED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** Answers that mean "this instance could not serve it now": retried for idempotent calls. */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

export function isTransientStatus(status: number): boolean {
  return TRANSIENT_STATUSES.has(status);
}

/**
 * cockatiel's timeout error. Not its `isTaskCancelledError`: in 3.2.1 that guard tests for the
 * bulkhead's marker property and is always false for a timeout.
 */
export function isTimeoutError(error: unknown): boolean {
  return error instanceof Error && 'isTaskCancelledError' in error && error.isTaskCancelledError === true;
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Classifies a thrown error, looking one level into `cause` (some wrappers keep the net error there). */
export function classifyFailure(error: unknown): FailureKind {
  if (isTimeoutError(error)) return 'timeout';
  if (isBrokenCircuitError(error)) return 'not-sent';
  for (const candidate of [error, typeof error === 'object' && error !== null ? (error as { cause?: unknown }).cause : undefined]) {
    const code = codeOf(candidate);
    if (code === undefined) continue;
    if (NOT_SENT_CODES.has(code)) return 'not-sent';
    if (MAYBE_SENT_CODES.has(code)) return 'maybe-sent';
  }
  return 'other';
}

/** Whether another attempt is safe: not-sent always, the rest only for idempotent calls. */
export function isRetryableFailure(kind: FailureKind, idempotent: boolean): boolean {
  if (kind === 'not-sent') return true;
  if (kind === 'maybe-sent' || kind === 'timeout') return idempotent;
  return false;
}

/** Whether the failure counts against the instance's circuit breaker. */
export function countsAgainstInstance(kind: FailureKind): boolean {
  return kind !== 'other';
}
