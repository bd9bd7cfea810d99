import { sql, type SQL } from 'drizzle-orm';
import type { Clock } from '@agora/kernel';
import type { Logger } from '../telemetry/logger.js';
import type { Storage, Tx } from '../storage/storage.js';
import type { FusedWrites, SagaDefinition, SagaStatus, StepPhase, StepStatus } from './definition.js';
import { jsonb, sagaRowOf, schemaTable, stepRowOf, ts, type RawRow, type SagaRow, type SagaState, type StepRow } from './log.js';

/**
 * One entry of the saga log as observers see it (metrics, tracing, fault injection in tests).
 *
 * `durable: true`: a write of the log that has COMMITTED. `durable: false`: a point the drive
 * passed without writing anything — a `replayed` step about to run (STARTED) or whose effect has
 * just been applied (DONE, "after effect k, before checkpoint k"). A crash right after a
 * non-durable entry leaves the log at the last checkpoint, and recovery replays from there.
 */
export interface SagaLogEntry {
  sagaId: string;
  saga: string;
  /** The saga's status after the entry (in memory when not durable). */
  status: SagaStatus;
  /** The status before it, for a write of a drive in progress (absent for a begin, a claim or a resume). */
  previous?: SagaStatus;
  /** When the saga began (its row's created_at); always set by the orchestrator. */
  createdAt?: Date;
  durable: boolean;
  /** Present when the entry concerns a step. */
  step?: { name: string; phase: StepPhase; status: StepStatus | 'RETRYING'; attempt: number };
}

/** Our claim on a saga was taken over (our lease ran out): stop driving, someone else has it. */
export class SagaLeaseLost extends Error {
  constructor(
    readonly sagaId: string,
    readonly owner: string,
  ) {
    super(`lease on saga ${sagaId} is no longer held by ${owner}`);
    this.name = 'SagaLeaseLost';
  }
}

/** The saga being driven by this instance: its definition and its row as this drive knows it. */
export interface Drive {
  readonly definition: SagaDefinition<unknown>;
  /**
   * The row as last committed, plus what `replayed` steps have done since (their results and the
   * step they reached), which the next checkpoint writes. Never ahead of the log in status.
   */
  row: SagaRow;
  /**
   * The saga's first claim ever (attempts = 1): step rows are only written under a lease, so none
   * existed when this drive began, and one exists now only if this drive wrote it (`written`).
   * Lets a bracketed step skip reading a log row that cannot be there.
   */
  readonly fresh: boolean;
  readonly written: Set<string>;
}

/**
 * A checkpoint: the saga row's status, step and state as the drive holds them now (overridden by
 * the fields given), written in one statement fenced on our lease, with an optional change of a
 * step row in the same statement.
 */
export interface LogWrite {
  status?: SagaStatus;
  currentStep?: number;
  state?: SagaState;
  /** `null` clears it. */
  waitUntil?: Date | null;
  /** true: stamp finished_at now; false: clear it. */
  finished?: boolean;
  /**
   * A statement on saga_steps, run in the same statement as the saga row's update. It must only
   * take effect when that fenced update matched: an update adds `and ${FENCED}` to its WHERE, an
   * insert selects its values `from fenced`.
   */
  step?: SQL;
  /** Give the lease up (the saga waits or is done). */
  release?: boolean;
  /** Park: keep the lease only until then (instead of renewing it), so recovery claims the saga after it. */
  parkUntil?: Date;
  entry?: SagaLogEntry['step'];
  /** A fused step's writes: parts of this statement, and a precondition of the checkpoint. */
  fused?: FusedWrites;
}

/** A fused step's precondition no longer held when its checkpoint was written: nothing changed; run the step again. */
export class SagaPreconditionFailed extends Error {
  constructor(readonly sagaId: string) {
    super(`saga ${sagaId}: a fused step's precondition failed; nothing was written`);
    this.name = 'SagaPreconditionFailed';
  }
}

/** Conditions a step-row statement on the fenced saga update having matched. */
export const FENCED = sql.raw('exists (select 1 from fenced)');

/**
 * The saga log's reads and writes for one service schema. Every write is one statement, so one
 * round trip: `with fenced as (update sagas ... where lease_owner = us returning *)` then the step
 * row's change, conditioned on `fenced`. Zero rows back means our lease was taken over and nothing
 * changed.
 */
export class SagaLogWriter {
  readonly sagas: SQL;
  readonly steps: SQL;

  constructor(
    readonly storage: Storage,
    schema: string,
    readonly owner: string,
    readonly leaseMs: number,
    private readonly clock: Clock,
    private readonly logger: Logger | undefined,
    private readonly onLog: ((entry: SagaLogEntry) => void) | undefined,
  ) {
    this.sagas = schemaTable(schema, 'sagas');
    this.steps = schemaTable(schema, 'saga_steps');
  }

  /**
   * Writes a checkpoint and returns the row as committed (inside `tx`: as it will be once the
   * caller commits; the caller then calls `committed`). Without `tx`, the drive's row is updated
   * and observers told at once.
   */
  async write(drive: Drive, change: LogWrite, tx?: Tx): Promise<SagaRow> {
    const now = this.clock.now();
    const row = drive.row;
    const assignments: SQL[] = [
      sql`status = ${change.status ?? row.status}`,
      sql`current_step = ${change.currentStep ?? row.currentStep}`,
      sql`state = ${jsonb(change.state ?? row.state)}`,
      change.release
        ? sql`lease_owner = null, lease_until = null`
        : sql`lease_until = ${ts(change.parkUntil ?? this.leaseEnd(now))}`,
      sql`updated_at = ${ts(now)}`,
    ];
    if (change.waitUntil !== undefined) assignments.push(sql`wait_until = ${change.waitUntil ? ts(change.waitUntil) : null}`);
    if (change.finished !== undefined) assignments.push(sql`finished_at = ${change.finished ? ts(now) : null}`);
    const precondition = change.fused?.precondition ? sql` and (${change.fused.precondition})` : sql``;
    const [updated] = await this.storage.query<RawRow>(
      sql`
      with fenced as (
        update ${this.sagas} set ${sql.join(assignments, sql`, `)} where id = ${row.id}::uuid and lease_owner = ${this.owner}${precondition} returning *
      )${change.step ? sql`, step_write as (${change.step})` : sql``}${change.fused ? sql`, ${change.fused.parts(FENCED)}` : sql``}
      select * from fenced`,
      tx,
    );
    if (!updated) {
      // Without a precondition an empty answer means the fence: our lease is gone. With one, look.
      if (change.fused?.precondition && (await this.read(row.id, tx))?.leaseOwner === this.owner) throw new SagaPreconditionFailed(row.id);
      throw new SagaLeaseLost(row.id, this.owner);
    }
    const written = sagaRowOf(updated);
    if (!tx) this.committed(drive, written, change.entry);
    return written;
  }

  /** A checkpoint written inside a caller's transaction has committed: the drive moves on. */
  committed(drive: Drive, row: SagaRow, step?: SagaLogEntry['step']): void {
    const previous = drive.row.status;
    drive.row = row;
    this.observe(row, true, step, previous);
  }

  observe(row: SagaRow, durable: boolean, step?: SagaLogEntry['step'], previous?: SagaStatus): void {
    if (!this.onLog) return;
    this.onLog({ sagaId: row.id, saga: row.name, status: row.status, createdAt: row.createdAt, durable, ...(step ? { step } : {}), ...(previous ? { previous } : {}) });
  }

  /** Renews the lease while a drive runs long; a renewal that finds the lease gone leaves it to the next (fenced) write. */
  startHeartbeat(drive: Drive): { stop(): void } {
    let renewing = false;
    const timer = setInterval(() => {
      if (renewing) return;
      renewing = true;
      const now = this.clock.now();
      this.storage
        .query<RawRow>(
          sql`update ${this.sagas} set lease_until = ${ts(this.leaseEnd(now))}
              where id = ${drive.row.id}::uuid and lease_owner = ${this.owner} returning id`,
        )
        .then((rows) => {
          if (rows.length === 0) this.logger?.warn({ sagaId: drive.row.id }, 'saga lease not renewed: no longer ours');
        })
        .catch((err: unknown) => this.logger?.error({ err, sagaId: drive.row.id }, 'saga lease renewal failed'))
        .finally(() => {
          renewing = false;
        });
    }, Math.max(5, Math.floor(this.leaseMs / 3)));
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  async read(sagaId: string, tx?: Tx): Promise<SagaRow | undefined> {
    const [raw] = await this.storage.query<RawRow>(sql`select * from ${this.sagas} where id = ${sagaId}::uuid`, tx);
    return raw ? sagaRowOf(raw) : undefined;
  }

  async readStep(sagaId: string, step: string, phase: StepPhase): Promise<StepRow | undefined> {
    const [raw] = await this.storage.query<RawRow>(
      sql`select * from ${this.steps} where saga_id = ${sagaId}::uuid and step = ${step} and phase = ${phase}`,
    );
    return raw ? stepRowOf(raw) : undefined;
  }

  leaseEnd(now: Date): Date {
    return new Date(now.getTime() + this.leaseMs);
  }
}
