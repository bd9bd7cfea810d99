import type pg from 'pg';
import { ATTR_DB_NAMESPACE, ATTR_DB_OPERATION_NAME, ATTR_DB_QUERY_TEXT, ATTR_DB_SYSTEM_NAME, DB_SYSTEM_NAME_VALUE_POSTGRESQL } from '@opentelemetry/semantic-conventions';
import { DB_STATEMENT_CHARS_MAX, SpanKind, hasActiveSpan, inSpan, tracingActive } from '../telemetry/tracing.js';

/** The pre-1.26 name of `db.system.name`, still what many trace backends group database spans by. */
const ATTR_DB_SYSTEM_LEGACY = 'db.system';

/** The first keyword of a statement (`SELECT`, `INSERT`, `BEGIN`, ...): its `db.operation.name`. */
export function statementOperation(text: string): string {
  const match = /^\s*(?:--[^\n]*\n\s*)*(\w+)/.exec(text);
  return match?.[1] ? match[1].toUpperCase() : 'UNKNOWN';
}

/** The text a query was given: a string, or a query config's `text`. */
function statementText(query: unknown): string | undefined {
  if (typeof query === 'string') return query;
  if (typeof query === 'object' && query !== null && typeof (query as { text?: unknown }).text === 'string') return (query as { text: string }).text;
  return undefined;
}

type QueryFn = (...args: unknown[]) => unknown;

/**
 * A CLIENT span per statement on every connection of `pool` (`SELECT`, `COMMIT`, ...) with
 * `db.system.name` postgresql, the operation, the database and the statement text — parameters
 * are never recorded (statements carry `$n` placeholders; values travel apart). Only inside a
 * traced span (a request, a saga step, an event): the background loops' polling makes no traces
 * of its own. Wraps `query` of the pool and of each new connection; a callback-style call is left alone.
 */
export function tracePgPool(pool: pg.Pool, database: string | undefined): void {
  if (!tracingActive()) return;
  // Statements outside a transaction go through pool.query (which calls the connection's query
  // with a callback: not traced twice); a transaction's go through its connection's query.
  traceQueries(pool as unknown as { query: QueryFn }, database);
  pool.on('connect', (client: pg.PoolClient) => traceQueries(client as unknown as { query: QueryFn }, database));
}

function traceQueries(target: { query: QueryFn }, database: string | undefined): void {
  const original = target.query.bind(target);
  const traced: QueryFn = (...args) => {
    const text = statementText(args[0]);
    if (text === undefined || typeof args[args.length - 1] === 'function' || !hasActiveSpan()) return original(...args);
    const operation = statementOperation(text);
    return inSpan(
      operation,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_POSTGRESQL,
          [ATTR_DB_SYSTEM_LEGACY]: DB_SYSTEM_NAME_VALUE_POSTGRESQL,
          [ATTR_DB_OPERATION_NAME]: operation,
          [ATTR_DB_QUERY_TEXT]: text.length > DB_STATEMENT_CHARS_MAX ? text.slice(0, DB_STATEMENT_CHARS_MAX) : text,
          ...(database === undefined ? {} : { [ATTR_DB_NAMESPACE]: database }),
        },
      },
      () => original(...args) as Promise<unknown>,
    );
  };
  target.query = traced;
}
