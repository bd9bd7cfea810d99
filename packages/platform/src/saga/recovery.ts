import { sql, type SQL } from 'drizzle-orm';
import type { Logger } from '../telemetry/logger.js';
import type { SagaLogWriter } from './log-writer.js';
import { sagaRowOf, ts, type RawRow, type SagaRow } from './log.js';

/**
 * Finding the sagas that need a driver and have none, and claiming them.
 *
 * Every case has `finished_at is null` (a saga is finished only once it is terminal and
 * onFinished ran), so the partial index `sagas_unfinished_idx` (tables.ts) finds them without
 * scanning the finished ones, which are nearly all of the table: left RUNNING or COMPENSATING by a
 * crash, WAITING past their deadline, terminal with onFinished not yet done — and whose lease ran
 * out (a saga born leased is its creator's until then).
 */
const RECOVERABLE = sql`(finished_at is null and (
  status in ('RUNNING', 'COMPENSATING')
  or (status = 'WAITING' and wait_until is not null and wait_until <= now_param.at)
  or status in ('COMPLETED', 'COMPENSATED', 'FAILED')))`;

export interface ClaimRequest {
  /** Only sagas this instance can drive (`name in (...)`). */
  names: SQL;
  now: Date;
  /** One saga (drive) or the oldest `limit` (recovery). */
  only: { id: string } | { limit: number };
}

/**
 * Takes the lease of recoverable sagas for this instance, in one statement, and returns them as
 * claimed. A batch uses `FOR UPDATE SKIP LOCKED`, so any number of instances recover at once and
 * each saga goes to exactly one of them.
 */
export async function claimSagas(log: SagaLogWriter, request: ClaimRequest): Promise<SagaRow[]> {
  const { now, names } = request;
  const free = sql`(lease_until is null or lease_until < now_param.at)`;
  const which =
    'id' in request.only
      ? sql`id = ${request.only.id}::uuid and ${names} and ${free} and ${RECOVERABLE}`
      : sql`${free} and id in (
          select id from ${log.sagas}, now_param
          where ${names} and ${free} and ${RECOVERABLE}
          order by updated_at
          limit ${request.only.limit}
          for update of sagas skip locked)`;
  const rows = await log.storage.query<RawRow>(sql`
    with now_param as (select ${ts(now)} as at)
    update ${log.sagas} set lease_owner = ${log.owner}, lease_until = ${ts(log.leaseEnd(now))},
           attempts = attempts + 1, updated_at = ${ts(now)}
    from now_param
    where ${which}
    returning ${log.sagas}.*`);
  return rows.map(sagaRowOf);
}

/** Runs a recovery round now and then every `intervalMs` (after the previous round ended) until stopped. */
export class RecoveryLoop {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> | undefined;

  constructor(
    private readonly round: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly logger: Logger | undefined,
  ) {
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 10) throw new Error(`intervalMs must be an integer >= 10, got ${intervalMs}`);
  }

  start(): void {
    this.tick = this.round()
      .then(() => undefined)
      .catch((err: unknown) => this.logger?.error({ err }, 'saga recovery round failed'))
      .finally(() => {
        this.tick = undefined;
        if (!this.stopped) {
          this.timer = setTimeout(() => this.start(), this.intervalMs);
          this.timer.unref();
        }
      });
  }

  /** Stops the loop and waits for its round in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.tick;
  }
}
