import { isBrokenCircuitError, isBulkheadRejectedError } from 'cockatiel';
import { AppError, isAppError } from '@agora/kernel';
import { classifyFailure, isTimeoutError, isTransientStatus } from './failures.js';

/**
 * What a failure says about the work that met it, decided once for the whole system (the saga,
 * the HTTP error handler, the in-process boundary and the breakers all ask here):
 *
 * - `transient`: the infrastructure could not do it *now* — a connection refused or reset, a
 *   server or pool out of connections, a server starting or shutting down, a serialization
 *   failure, a deadlock, a lock or statement timeout, the broker gone, a peer's 502/503/504 (or 429).
 *   The same request later may well succeed: retry it (bounded by a deadline), never decide a
 *   business outcome on it.
 * - `business`: a peer answered definitively (any other 4xx problem: declined, out of stock, conflict,
 *   not found, invalid). Asked again, it answers the same.
 * - `unknown`: anything else — a bug, a 500, a malformed answer. Neither safe to retry forever
 *   nor a business answer; callers keep their bounded handling of it.
 */
export type FaultKind = 'transient' | 'business' | 'unknown';

/**
 * PostgreSQL SQLSTATEs that mean "not now" (https://www.postgresql.org/docs/current/errcodes-appendix.html).
 * Class 08 (connection exception) is taken whole; these are the others.
 */
export const TRANSIENT_SQLSTATES: Readonly<Record<string, string>> = Object.freeze({
  '53300': 'too_many_connections',
  '53400': 'configuration_limit_exceeded',
  '57P01': 'admin_shutdown',
  '57P02': 'crash_shutdown',
  '57P03': 'cannot_connect_now',
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '55P03': 'lock_not_available',
  '57014': 'query_canceled',
});

/** Messages of node-postgres (pg / pg-pool) failures that carry no SQLSTATE. */
const TRANSIENT_DRIVER_MESSAGES: readonly RegExp[] = [
  // pg-pool: no connection became free within connectionTimeoutMillis.
  /timeout exceeded when trying to connect/i,
  /Connection terminated (unexpectedly|due to connection timeout)/i,
  // PgBouncer's own refusals arrive as errors without a class-53 code on some versions.
  /no more connections allowed|pgbouncer cannot connect to server|server login has been failing|query_wait_timeout|client_login_timeout/i,
];

/** NATS client errors (`@nats-io/*`) that mean the broker is not reachable now. */
const TRANSIENT_BROKER_CODES: ReadonlySet<string> = new Set(['CONNECTION_CLOSED', 'CONNECTION_DRAINING', 'CONNECTION_REFUSED', 'DISCONNECT', 'TIMEOUT', '503']);
const TRANSIENT_BROKER_NAMES: ReadonlySet<string> = new Set(['TimeoutError', 'ConnectionError', 'ClosedConnectionError', 'NoRespondersError', 'RequestError']);

/** How deep `cause` chains are followed (drizzle wraps the driver's error; our wrappers add one). */
const CAUSE_DEPTH = 5;

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < CAUSE_DEPTH && current !== undefined && current !== null; depth++) {
    chain.push(current);
    current = typeof current === 'object' ? (current as { cause?: unknown }).cause : undefined;
  }
  return chain;
}

function stringField(value: unknown, field: 'code' | 'name' | 'message'): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const found = (value as Record<string, unknown>)[field];
  return typeof found === 'string' ? found : typeof found === 'number' ? String(found) : undefined;
}

/** The SQLSTATE of a PostgreSQL error anywhere in the cause chain. */
function sqlState(error: unknown): string | undefined {
  for (const candidate of causes(error)) {
    const code = stringField(candidate, 'code');
    if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

function isTransientSqlState(code: string): boolean {
  return code.startsWith('08') || Object.hasOwn(TRANSIENT_SQLSTATES, code);
}

/** Classifies a failure (see `FaultKind`). Looks through `cause` chains: drizzle and our wrappers keep the original there. */
export function classifyFault(error: unknown): FaultKind {
  if (isAppError(error)) {
    // 429 says "not now" as plainly as 503 does: a limit that refills, not an answer about the request.
    if (isTransientStatus(error.status) || error.status === 429) return 'transient';
    if (error.status >= 400 && error.status < 500) return 'business';
    // A peer's 500 rebuilt from its problem: its cause, if we hold it, may say more.
    return error.cause === undefined ? 'unknown' : classifyFault(error.cause);
  }
  const state = sqlState(error);
  if (state !== undefined) return isTransientSqlState(state) ? 'transient' : 'unknown';
  if (isTimeoutError(error) || isBrokenCircuitError(error) || isBulkheadRejectedError(error)) return 'transient';
  for (const candidate of causes(error)) {
    if (classifyFailure(candidate) !== 'other') return 'transient';
    const message = stringField(candidate, 'message') ?? '';
    if (TRANSIENT_DRIVER_MESSAGES.some((pattern) => pattern.test(message))) return 'transient';
    const code = stringField(candidate, 'code');
    const name = stringField(candidate, 'name');
    if ((code !== undefined && TRANSIENT_BROKER_CODES.has(code)) || (name !== undefined && TRANSIENT_BROKER_NAMES.has(name))) return 'transient';
  }
  return 'unknown';
}

export function isTransientFault(error: unknown): boolean {
  return classifyFault(error) === 'transient';
}

/** Seconds a client is told to wait (Retry-After) when a transient fault answers its request. */
export const TRANSIENT_RETRY_AFTER_SECONDS = 1;

/** A short name of the fault for logs and 503 details, without internals (`too_many_connections`, `ECONNRESET`). */
export function faultLabel(error: unknown): string {
  const state = sqlState(error);
  if (state !== undefined) return TRANSIENT_SQLSTATES[state] ?? `sqlstate ${state}`;
  for (const candidate of causes(error)) {
    const code = stringField(candidate, 'code');
    if (code !== undefined) return code;
  }
  return stringField(error, 'name') ?? 'error';
}

/**
 * A transient fault as the answer a caller gets: 503 UNAVAILABLE with Retry-After, naming the
 * kind of fault (never the SQL or the driver's message). Undefined when the fault is not transient.
 * Every HTTP surface and the in-process boundary answer this way, so a caller's classifier sees a
 * peer's database running out of connections as what it is, not as a 500.
 */
export function unavailableFor(error: unknown, service: string): AppError | undefined {
  if (isAppError(error) || !isTransientFault(error)) return undefined;
  return new AppError('UNAVAILABLE', `${service} is temporarily unable to serve this (${faultLabel(error)}); retry`, {
    retryAfterSeconds: TRANSIENT_RETRY_AFTER_SECONDS,
    cause: error,
  });
}
