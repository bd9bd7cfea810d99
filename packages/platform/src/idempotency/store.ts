import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type SQL } from 'drizzle-orm';
import { AppError, LIMITS, fromProblem, isProblem, newId, systemClock, toProblem, validationError, type Clock } from '@agora/kernel';
import type { Logger } from '../telemetry/logger.js';
import type { Storage } from '../storage/storage.js';

/** What a handler answers: stored on first execution, given back on every replay. */
export interface IdempotentResponse {
  status: number;
  body: unknown;
}

export interface IdempotentResult extends IdempotentResponse {
  /** True when this is the stored answer of an earlier request, not a new execution. */
  replayed: boolean;
}

export interface IdempotencyStoreOptions {
  storage: Storage;
  /** The PostgreSQL schema holding the service's `idempotency_keys` table (see `idempotencyTable`). */
  schema: string;
  clock?: Clock;
  logger?: Logger;
  /** An IN_PROGRESS key older than this is presumed abandoned (its request died) and may be taken over. */
  lockTimeoutMs?: number;
  /** How long a duplicate waits for the first request to finish before answering 409. */
  waitMs?: number;
  /** First pause between looks at a key in progress; doubles up to `maxPollMs`. */
  pollMs?: number;
  maxPollMs?: number;
}

export const IDEMPOTENCY_DEFAULTS = {
  lockTimeoutMs: 60_000,
  waitMs: 30_000,
  pollMs: 25,
  maxPollMs: 500,
  /** Keys are kept 24 hours (docs/api.md#idempotency-key). */
  retentionMs: 24 * 60 * 60 * 1000,
  scopeChars: 512,
  requestHashChars: 128,
} as const;

interface KeyRow {
  request_hash: string;
  status: 'IN_PROGRESS' | 'COMPLETED';
  owner: string;
  response_status: number | null;
  response_body: unknown;
  locked_at: Date | string;
}

/**
 * Idempotency keys (docs/api.md#idempotency-key): the same key and body get the first response (status and body); the
 * same key with another body is 422 IDEMPOTENCY_MISMATCH; a duplicate that arrives while the
 * first is still running waits for its answer instead of running a second time.
 *
 * The first request inserts an IN_PROGRESS row (the primary key on (scope, key) picks exactly one
 * winner), runs, and stores its response. A technical failure (a throw that is not a 4xx
 * AppError, or a 5xx answer) deletes the row so the client's retry runs again; a 4xx is a final
 * answer and is replayed — as the same AppError when it was thrown as one.
 *
 * The handler's own effects are not in the same transaction as the stored response, so after a
 * crash between the two, a takeover runs the handler again: what it changes must itself be
 * idempotent (e.g. derive the order/saga id from the key).
 */
export class IdempotencyStore {
  private readonly storage: Storage;
  private readonly table: SQL;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly lockTimeoutMs: number;
  private readonly waitMs: number;
  private readonly pollMs: number;
  private readonly maxPollMs: number;

  constructor(options: IdempotencyStoreOptions) {
    if (!/^[a-z_][a-z0-9_]*$/.test(options.schema)) throw new Error(`schema must be a lowercase identifier, got "${options.schema}"`);
    this.storage = options.storage;
    this.table = sql`${sql.identifier(options.schema)}.${sql.identifier('idempotency_keys')}`;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    this.lockTimeoutMs = options.lockTimeoutMs ?? IDEMPOTENCY_DEFAULTS.lockTimeoutMs;
    this.waitMs = options.waitMs ?? IDEMPOTENCY_DEFAULTS.waitMs;
    this.pollMs = options.pollMs ?? IDEMPOTENCY_DEFAULTS.pollMs;
    this.maxPollMs = options.maxPollMs ?? IDEMPOTENCY_DEFAULTS.maxPollMs;
    if (this.pollMs < 1 || this.maxPollMs < this.pollMs) throw new Error('idempotency polling needs 1 <= pollMs <= maxPollMs');
    if (this.lockTimeoutMs < 1 || this.waitMs < 0) throw new Error('idempotency timeouts must be positive');
  }

  /**
   * Runs `execute` at most once per (scope, key) and answers every request with that key with
   * its response. `scope` keeps keys of different users and routes apart, e.g.
   * `${userId}:POST /api/v1/checkout`; `requestHash` is `hashRequest(body)`.
   */
  async run(scope: string, key: string, requestHash: string, execute: () => Promise<IdempotentResponse>): Promise<IdempotentResult> {
    this.validate(scope, key, requestHash);
    let waited = 0;
    let pause = this.pollMs;
    for (;;) {
      const now = this.clock.now();
      const owner = newId();
      const inserted = await this.storage.query<{ owner: string }>(sql`
        insert into ${this.table} (scope, key, request_hash, status, owner, locked_at, created_at)
        values (${scope}, ${key}, ${requestHash}, 'IN_PROGRESS', ${owner}, ${iso(now)}::timestamptz, ${iso(now)}::timestamptz)
        on conflict (scope, key) do nothing
        returning owner`);
      if (inserted.length === 1) return this.execute(scope, key, owner, execute);

      const [row] = await this.storage.query<KeyRow>(sql`
        select request_hash, status, owner, response_status, response_body, locked_at
        from ${this.table} where scope = ${scope} and key = ${key}`);
      if (row) {
        if (row.request_hash !== requestHash) {
          throw new AppError('IDEMPOTENCY_MISMATCH', 'this Idempotency-Key was used with a different request body');
        }
        if (row.status === 'COMPLETED') return replay(row);
        const lockedFor = now.getTime() - new Date(row.locked_at).getTime();
        if (lockedFor >= this.lockTimeoutMs) {
          const taken = await this.storage.query<{ owner: string }>(sql`
            update ${this.table} set owner = ${owner}, locked_at = ${iso(now)}::timestamptz
            where scope = ${scope} and key = ${key} and status = 'IN_PROGRESS' and owner = ${row.owner}
            returning owner`);
          if (taken.length === 1) {
            this.logger?.warn({ scope, key, abandonedBy: row.owner, lockedFor }, 'idempotency key taken over from an abandoned request');
            return this.execute(scope, key, owner, execute);
          }
          continue; // someone else took it over or finished it: look again
        }
      }
      // In progress elsewhere (or released a moment ago): wait for its answer, within bounds.
      if (waited >= this.waitMs) {
        throw new AppError('CONFLICT', 'a request with this Idempotency-Key is still in progress', { retryAfterSeconds: 1 });
      }
      await sleep(pause);
      waited += pause;
      pause = Math.min(pause * 2, this.maxPollMs);
    }
  }

  /** Deletes keys created before `olderThan` (completed or abandoned); returns how many. */
  async prune(olderThan: Date): Promise<number> {
    const [row] = await this.storage.query<{ n: number }>(sql`
      with deleted as (delete from ${this.table} where created_at < ${iso(olderThan)}::timestamptz returning 1)
      select count(*)::int as n from deleted`);
    return row?.n ?? 0;
  }

  /** Deletes keys past their 24-hour retention (docs/api.md#idempotency-key). */
  pruneExpired(): Promise<number> {
    return this.prune(new Date(this.clock.now().getTime() - IDEMPOTENCY_DEFAULTS.retentionMs));
  }

  private async execute(scope: string, key: string, owner: string, execute: () => Promise<IdempotentResponse>): Promise<IdempotentResult> {
    let response: IdempotentResponse;
    try {
      response = await execute();
    } catch (err) {
      if (err instanceof AppError && err.status < 500) {
        // A business answer (4xx): final, so it is stored and replayed as the same error.
        await this.complete(scope, key, owner, { status: err.status, body: toProblem(err) });
        throw err;
      }
      await this.releaseAfterFailure(scope, key, owner, err);
      throw err;
    }
    if (!Number.isInteger(response.status) || response.status < 100 || response.status > 599) {
      await this.releaseAfterFailure(scope, key, owner, new Error(`invalid status ${response.status}`));
      throw new Error(`idempotent handler answered an invalid HTTP status ${response.status}`);
    }
    if (response.status >= 500) {
      // A server error is not an answer to keep: the client's retry runs again.
      await this.releaseAfterFailure(scope, key, owner, new Error(`handler answered ${response.status}`));
      return { ...response, replayed: false };
    }
    await this.complete(scope, key, owner, response);
    return { ...response, replayed: false };
  }

  private async complete(scope: string, key: string, owner: string, response: IdempotentResponse): Promise<void> {
    const body = JSON.stringify(response.body ?? null);
    const stored = await this.storage.query<{ owner: string }>(sql`
      update ${this.table}
      set status = 'COMPLETED', response_status = ${response.status}, response_body = ${body}::jsonb, completed_at = ${iso(this.clock.now())}::timestamptz
      where scope = ${scope} and key = ${key} and owner = ${owner} and status = 'IN_PROGRESS'
      returning owner`);
    if (stored.length === 0) {
      // We were presumed dead and another request took the key over; its answer is the one kept.
      this.logger?.warn({ scope, key }, 'idempotency key was taken over while this request ran; its response is not stored');
    }
  }

  private async releaseAfterFailure(scope: string, key: string, owner: string, cause: unknown): Promise<void> {
    try {
      await this.storage.query(sql`delete from ${this.table} where scope = ${scope} and key = ${key} and owner = ${owner} and status = 'IN_PROGRESS'`);
    } catch (err) {
      // The key stays IN_PROGRESS until the lock timeout lets a retry take it over.
      this.logger?.error({ err, cause, scope, key }, 'could not release idempotency key after a failed request');
    }
  }

  private validate(scope: string, key: string, requestHash: string): void {
    if (key.length < 1 || key.length > LIMITS.idempotencyKeyChars) {
      throw validationError([{ path: 'Idempotency-Key', message: `must be 1..${LIMITS.idempotencyKeyChars} characters` }]);
    }
    if (scope.length < 1 || scope.length > IDEMPOTENCY_DEFAULTS.scopeChars) throw new Error(`idempotency scope must be 1..${IDEMPOTENCY_DEFAULTS.scopeChars} chars`);
    if (requestHash.length < 1 || requestHash.length > IDEMPOTENCY_DEFAULTS.requestHashChars) throw new Error('request hash must be 1..128 chars');
  }
}

/** A stored 4xx problem is thrown again as the same AppError, so the route renders it exactly as the first time. */
function replay(row: KeyRow): IdempotentResult {
  const status = row.response_status;
  if (status === null) throw new Error('idempotency: a COMPLETED key has a response status');
  if (status >= 400 && isProblem(row.response_body)) throw fromProblem(row.response_body);
  return { status, body: row.response_body, replayed: true };
}

function iso(date: Date): string {
  return date.toISOString();
}

