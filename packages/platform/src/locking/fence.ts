import { sql, type SQL } from 'drizzle-orm';
import { bigint, check, text, timestamp, type PgSchema } from 'drizzle-orm/pg-core';
import type { Storage, Tx } from '../storage/storage.js';
import type { FencingToken } from './lock.js';
import { lockingTable } from './postgres.js';

/**
 * The resource side of fencing: the highest token each fenced resource has accepted, as a drizzle
 * table in the *using service's* schema (`export const fencingTokens = fencingTokensTable(shardSchema);`
 * in its store/schema.ts). A resource is any name the writers agree on: `shard-map`,
 * `flash-sale:<sku>`. Rows are never deleted: forgetting a token would let a stale writer back in.
 */
export function fencingTokensTable<S extends string>(schema: PgSchema<S>) {
  return schema.table(
    'fencing_tokens',
    {
      resource: text('resource').primaryKey(),
      token: bigint('token', { mode: 'bigint' }).notNull(),
      updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
    },
    () => [check('fencing_tokens_token_check', sql`"token" > 0`)],
  );
}

/** Which resource a write goes to, in which schema's `fencing_tokens`, under which lock token. */
export interface FenceTarget {
  schema: string;
  resource: string;
  token: FencingToken;
}

export const FENCE_LIMITS = {
  /** Resource names are row keys; as long as lock names (LOCK_LIMITS.nameLengthMax). */
  resourceLengthMax: 200,
} as const;

/** A write carried a token lower than one the resource has already accepted: its lease was over. */
export class StaleFencingTokenError extends Error {
  readonly code = 'STALE_FENCING_TOKEN';
  constructor(
    readonly resource: string,
    readonly token: FencingToken,
    /** The highest token the resource has accepted. */
    readonly highest: FencingToken,
  ) {
    super(`write to "${resource}" with fencing token ${token} refused: token ${highest} has already written`);
    this.name = 'StaleFencingTokenError';
  }
}

/**
 * Inside the caller's transaction: records `token` as the highest accepted by `resource`, or throws
 * {@link StaleFencingTokenError} (and the caller's transaction rolls back) when a higher one came
 * first. An equal token passes: one holder writes many times. The row stays locked until the
 * transaction ends, so fenced transactions of one resource commit one at a time in token order —
 * the writes after this call can never be overtaken by an older holder's.
 */
export async function advanceFence(storage: Storage, tx: Tx, target: FenceTarget): Promise<void> {
  const table = fenceTable(target);
  const rows = await storage.query<{ token: unknown }>(
    sql`
      insert into ${table} as f (resource, token, updated_at)
      values (${target.resource}, ${target.token.toString()}::bigint, statement_timestamp())
      on conflict (resource) do update set token = excluded.token, updated_at = excluded.updated_at
        where f.token <= excluded.token
      returning f.token`,
    tx,
  );
  if (rows.length === 1) return;
  // Refused: the row is locked by this transaction now (ON CONFLICT locks it even when the WHERE
  // fails), so this read sees the token that refused us.
  const [row] = await storage.query<{ token: string | bigint }>(sql`select token from ${table} where resource = ${target.resource}`, tx);
  if (!row) throw new Error(`locking: fence of "${target.resource}" refused token ${target.token} but has no row`);
  throw new StaleFencingTokenError(target.resource, target.token, BigInt(row.token));
}

/** Runs `work` in one transaction that first advances the fence (see {@link advanceFence}). */
export function fencedTransaction<T>(storage: Storage, target: FenceTarget, work: (tx: Tx) => Promise<T>): Promise<T> {
  return storage.transaction(async (tx) => {
    await advanceFence(storage, tx, target);
    return work(tx);
  });
}

/** The highest token `resource` has accepted, or undefined before its first fenced write. */
export async function fenceToken(storage: Storage, schema: string, resource: string): Promise<FencingToken | undefined> {
  const table = fenceTable({ schema, resource, token: 1n });
  const [row] = await storage.query<{ token: string | bigint }>(sql`select token from ${table} where resource = ${resource}`);
  return row ? BigInt(row.token) : undefined;
}

function fenceTable(target: FenceTarget): SQL {
  if (typeof target.resource !== 'string' || target.resource.length === 0 || target.resource.length > FENCE_LIMITS.resourceLengthMax) {
    throw new RangeError(`fence resource must be 1..${FENCE_LIMITS.resourceLengthMax} (FENCE_LIMITS.resourceLengthMax) characters, got ${JSON.stringify(String(target.resource).slice(0, 60))}`);
  }
  if (typeof target.token !== 'bigint' || target.token <= 0n) throw new RangeError(`fencing token must be a positive bigint, got ${String(target.token)}`);
  return lockingTable(target.schema, 'fencing_tokens');
}
