import { WakeablePause } from './pause.js';
import { sql, type SQL } from 'drizzle-orm';
import { index, jsonb, text, timestamp, uuid, type PgSchema } from 'drizzle-orm/pg-core';
import type { Counter } from 'prom-client';
import type { events } from '@agora/contracts';
import type { Storage, Tx } from '../storage/storage.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { serializeEvent, type EventBus } from './bus.js';
import { currentTraceCarrier, type TraceCarrier } from '../telemetry/tracing.js';

type EventEnvelope = events.EventEnvelope;

/**
 * The transactional outbox. A service writes the events of a change into its own `outbox` table in
 * the same transaction as the change; a relay publishes committed rows to the bus and marks them.
 * A crash between publish and mark re-publishes the row later, and the bus drops the duplicate by
 * event id, so every committed event reaches the bus and a rolled-back one never does.
 */

/**
 * The outbox table in a service's schema. Call it from the service's `store/schema.ts`
 * (`export const outbox = outboxTable(orderSchema);`) so drizzle-kit generates its migration.
 */
export function outboxTable<S extends string>(schema: PgSchema<S>) {
  return schema.table(
    'outbox',
    {
      id: uuid('id').primaryKey(),
      type: text('type').notNull(),
      key: text('key').notNull(),
      payload: jsonb('payload').notNull(),
      occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull(),
      publishedAt: timestamp('published_at', { withTimezone: true, mode: 'date' }),
      /** The W3C trace context of the transaction that wrote the event (null when tracing was off): the relay continues that trace. */
      traceContext: jsonb('trace_context'),
    },
    (t) => [
      // What the relay scans: only unpublished rows, in publish order.
      index('outbox_unpublished_idx').on(t.occurredAt, t.id).where(sql`${t.publishedAt} is null`),
      // What pruning scans.
      index('outbox_published_at_idx').on(t.publishedAt).where(sql`${t.publishedAt} is not null`),
    ],
  );
}

export const OUTBOX_LIMITS = {
  /** Rows per insert statement (6 parameters each, far below PostgreSQL's 65535). */
  insertChunk: 1_000,
  batchSizeMax: 10_000,
  /** Unpublished rows counted at a scrape, at most (the count stays an index range read). */
  backlogCountMax: 100_000,
} as const;

export const OUTBOX_DEFAULTS = {
  /** Rows claimed per relay transaction; also the pokes after which a debounce window closes early. */
  batchSize: 100,
  intervalMs: 1_000,
  /**
   * How long a poke holds the relay before it claims rows, so the commits of a burst (50 checkouts
   * each poking after its commit) share a few relay transactions instead of one each. A few ms: far
   * below what a consumer notices, about the time a few commits take on a shared pool.
   */
  pokeDebounceMs: 5,
  retentionHours: 24,
  pruneEveryMs: 600_000,
  maxBackoffMs: 30_000,
} as const;

const SCHEMA_NAME = /^[a-z][a-z0-9_]*$/;

function outboxOf(schema: string) {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`outbox schema must be a lowercase identifier, got "${schema}"`);
  return sql`${sql.identifier(schema)}.outbox`;
}

/** Adds events to the service's outbox inside the caller's transaction; an id already there is kept as is. */
export async function writeOutbox(storage: Storage, tx: Tx, schema: string, events: readonly EventEnvelope[]): Promise<void> {
  for (let start = 0; start < events.length; start += OUTBOX_LIMITS.insertChunk) {
    await storage.query(outboxInsert(schema, events.slice(start, start + OUTBOX_LIMITS.insertChunk)), tx);
  }
}

/**
 * The insert of `events` into the service's outbox as one statement, for callers that make it part
 * of a statement of their own (a CTE), e.g. `where ${condition}` true only when their change
 * applied. At most `OUTBOX_LIMITS.insertChunk` events.
 */
export function outboxInsert(schema: string, events: readonly EventEnvelope[], condition?: SQL): SQL {
  if (events.length === 0 || events.length > OUTBOX_LIMITS.insertChunk) throw new Error(`an outbox insert takes 1..${OUTBOX_LIMITS.insertChunk} events, got ${events.length}`);
  // Checked here, inside the business transaction: a row the bus would refuse must never be committed,
  // or it would block the relay behind it forever.
  events.forEach(serializeEvent);
  // The trace of the transaction writing the events, kept for the relay that publishes them later.
  const active = currentTraceCarrier();
  const traceOf = (e: EventEnvelope): string | null => {
    const carrier = e.traceContext ?? active;
    return carrier === undefined ? null : JSON.stringify(carrier);
  };
  const rows = events.map((e) => sql`(${e.id}::uuid, ${e.type}::text, ${e.key}::text, ${JSON.stringify(e.payload ?? null)}::jsonb, ${e.occurredAt}::timestamptz, ${traceOf(e)}::jsonb)`);
  const values = sql`values ${sql.join(rows, sql`, `)}`;
  const source = condition ? sql`select * from (${values}) as v(id, type, key, payload, occurred_at, trace_context) where ${condition}` : values;
  return sql`insert into ${outboxOf(schema)} (id, type, key, payload, occurred_at, trace_context) ${source} on conflict (id) do nothing`;
}

export interface OutboxRelayOptions {
  storage: Storage;
  /** The service schema whose `outbox` table this relay drains. */
  schema: string;
  bus: EventBus;
  logger: Logger;
  metrics?: Metrics;
  /** Rows claimed per transaction. */
  batchSize?: number;
  /** How often to look for rows written by other instances (a poke looks within `pokeDebounceMs`). */
  intervalMs?: number;
  /** How long the pokes of a burst are gathered before one relay transaction claims their rows. */
  pokeDebounceMs?: number;
  /** Published rows older than this are deleted. */
  retentionHours?: number;
  pruneEveryMs?: number;
}

interface OutboxRow {
  id: string;
  type: string;
  key: string;
  payload: string;
  /** ISO 8601 UTC with milliseconds, formatted by the database so both drivers agree. */
  occurred_at: string;
  trace_context: string | null;
}

/**
 * Publishes committed outbox rows. Any number of relays (instances) may drain the same table: each
 * claims a batch with `FOR UPDATE SKIP LOCKED`, publishes it in order, marks it and commits.
 */
export class OutboxRelay {
  private readonly storage: Storage;
  private readonly schema: string;
  private readonly table: ReturnType<typeof outboxOf>;
  private readonly bus: EventBus;
  private readonly logger: Logger;
  private readonly batchSize: number;
  private readonly intervalMs: number;
  private readonly retentionHours: number;
  private readonly pruneEveryMs: number;
  private readonly published: Counter<'schema'> | undefined;
  private readonly pokeDebounceMs: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private poked = false;
  /** Pokes since the last claim began: the window closes early once they could fill a batch. */
  private pokesSinceClaim = 0;
  private claims = 0;
  private readonly pauser = new WakeablePause();
  private readonly window = new WakeablePause();
  private lastPruneAt = 0;

  constructor(options: OutboxRelayOptions) {
    this.storage = options.storage;
    this.schema = options.schema;
    this.table = outboxOf(options.schema);
    this.bus = options.bus;
    this.logger = options.logger;
    this.batchSize = options.batchSize ?? OUTBOX_DEFAULTS.batchSize;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1 || this.batchSize > OUTBOX_LIMITS.batchSizeMax) {
      throw new Error(`outbox batchSize must be an integer in 1..${OUTBOX_LIMITS.batchSizeMax}, got ${this.batchSize}`);
    }
    this.intervalMs = options.intervalMs ?? OUTBOX_DEFAULTS.intervalMs;
    this.retentionHours = options.retentionHours ?? OUTBOX_DEFAULTS.retentionHours;
    this.pruneEveryMs = options.pruneEveryMs ?? OUTBOX_DEFAULTS.pruneEveryMs;
    this.pokeDebounceMs = options.pokeDebounceMs ?? OUTBOX_DEFAULTS.pokeDebounceMs;
    if (!Number.isInteger(this.pokeDebounceMs) || this.pokeDebounceMs < 0) {
      throw new Error(`outbox pokeDebounceMs must be a non-negative integer, got ${this.pokeDebounceMs}`);
    }
    this.published = options.metrics?.counter('agora_outbox_published_total', 'Outbox rows published to the event bus, by schema', ['schema']);
    // Read at scrape time (one index read each): relays of several shards of a schema add up their backlogs.
    options.metrics?.scraped('agora_outbox_backlog_rows', `Outbox rows not yet published, by schema (counted up to ${OUTBOX_LIMITS.backlogCountMax} per database)`, ['schema'], async () => [
      { labels: { schema: this.schema }, value: (await this.lag()).backlog },
    ]);
    options.metrics?.scraped(
      'agora_outbox_oldest_unpublished_age_seconds',
      'Age of the oldest outbox row not yet published, by schema (0: none waiting)',
      ['schema'],
      async () => [{ labels: { schema: this.schema }, value: (await this.lag()).oldestSeconds }],
      'max',
    );
  }

  /** What waits to be published: rows (up to OUTBOX_LIMITS.backlogCountMax) and the oldest one's age by the database's clock. */
  async lag(): Promise<{ backlog: number; oldestSeconds: number }> {
    const [row] = await this.storage.query<{ n: number; age: number | string | null }>(
      sql`select count(*)::int as n, extract(epoch from now() - min(occurred_at))::float8 as age
          from (select occurred_at from ${this.table} where published_at is null order by occurred_at limit ${OUTBOX_LIMITS.backlogCountMax}) waiting`,
    );
    return { backlog: row?.n ?? 0, oldestSeconds: Math.max(0, Number(row?.age ?? 0)) };
  }

  /** Runs the relay loop until {@link stop}. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the batch in flight, then returns. */
  async stop(): Promise<void> {
    this.running = false;
    this.pauser.wake();
    this.window.wake();
    await this.loop;
    this.loop = undefined;
  }

  /**
   * Looks at the outbox within `pokeDebounceMs` rather than at the next interval: call it after
   * committing events. Pokes within one window share one claim; `batchSize` of them close it early.
   */
  poke(): void {
    this.poked = true;
    this.pokesSinceClaim++;
    this.pauser.wake();
    if (this.pokesSinceClaim >= this.batchSize) this.window.wake();
  }

  /** Relay transactions begun (claims, whether or not they found rows): what debouncing saves. */
  get rounds(): number {
    return this.claims;
  }

  /**
   * Claims, publishes and marks one batch; returns how many rows it published. A publish failure
   * commits the rows published before it and then throws: the rest stay for the next run.
   */
  async flushOnce(): Promise<number> {
    let failure: { error: unknown } | undefined;
    const done: string[] = [];
    this.claims++;
    this.pokesSinceClaim = 0;
    await this.storage.transaction(async (tx) => {
      const rows = await this.storage.query<OutboxRow>(
        sql`select id::text as id, type, key, payload::text as payload,
                   to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as occurred_at,
                   trace_context::text as trace_context
            from ${this.table}
            where published_at is null order by occurred_at, id limit ${this.batchSize} for update skip locked`,
        tx,
      );
      for (const row of rows) {
        try {
          await this.bus.publish(toEnvelope(row));
        } catch (error) {
          failure = { error };
          break;
        }
        done.push(row.id);
      }
      if (done.length > 0) {
        const ids = sql.join(
          done.map((id) => sql`${id}::uuid`),
          sql`, `,
        );
        await this.storage.query(sql`update ${this.table} set published_at = now() where id in (${ids})`, tx);
      }
    });
    if (done.length > 0) this.published?.inc({ schema: this.schema }, done.length);
    if (failure) {
      throw new Error(`outbox ${this.schema}: publish failed after ${done.length} event(s)`, { cause: failure.error });
    }
    return done.length;
  }

  /** Deletes published rows older than the retention; returns how many. */
  async prune(): Promise<number> {
    const cutoff = new Date(Date.now() - this.retentionHours * 3_600_000).toISOString();
    const rows = await this.storage.query<{ id: string }>(
      sql`delete from ${this.table} where published_at is not null and published_at < ${cutoff}::timestamptz returning id::text as id`,
    );
    return rows.length;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.poked = false;
      let full = false;
      try {
        const count = await this.flushOnce();
        failures = 0;
        full = count >= this.batchSize;
        if (Date.now() - this.lastPruneAt >= this.pruneEveryMs) {
          this.lastPruneAt = Date.now();
          const pruned = await this.prune();
          if (pruned > 0) this.logger.debug({ schema: this.schema, pruned }, 'outbox pruned');
        }
      } catch (err) {
        failures++;
        this.logger.error({ schema: this.schema, err, failures }, 'outbox relay failed; retrying');
      }
      if (!this.running) break;
      if (failures === 0 && full) continue;
      if (failures === 0 && !this.poked) {
        await this.pauser.sleep(this.intervalMs);
      } else if (failures > 0) {
        await this.pauser.sleep(Math.min(this.intervalMs * 2 ** Math.min(failures, 10), OUTBOX_DEFAULTS.maxBackoffMs));
      }
      if (this.poked) await this.gatherPokes();
    }
  }

  /** The debounce window: returns after `pokeDebounceMs`, or at once when the pokes could fill a batch or on stop. */
  private async gatherPokes(): Promise<void> {
    if (!this.running || this.pokesSinceClaim >= this.batchSize) return;
    await this.window.sleep(this.pokeDebounceMs);
  }
}

function toEnvelope(row: OutboxRow): EventEnvelope {
  const envelope: EventEnvelope = { id: row.id, type: row.type, key: row.key, occurredAt: row.occurred_at, payload: JSON.parse(row.payload) as unknown };
  if (row.trace_context !== null) envelope.traceContext = JSON.parse(row.trace_context) as TraceCarrier;
  return envelope;
}
