import { sql, type SQL } from 'drizzle-orm';
import { isUuid, newId, notFound, systemClock, type Clock } from '@agora/kernel';
import type { Logger } from '../telemetry/logger.js';
import type { Storage, Tx } from '../storage/storage.js';
import {
  DEFAULT_COMPENSATE_RETRY,
  DEFAULT_RUN_RETRY,
  SAGA_LIMITS,
  SagaAbort,
  TERMINAL_SAGA_STATUSES,
  WaitRequest,
  backoffDelay,
  retryPolicy,
  type CompensationContext,
  type SagaDefinition,
  type SagaFailure,
  type SagaOutcome,
  type SagaStatus,
  type SagaStep,
  type SignalContext,
  type StepContext,
  type StepPhase,
  type StepStatus,
} from './definition.js';
import {
  errorMessage,
  jsonb,
  outcomeOf,
  sagaRowOf,
  schemaTable,
  stepRowOf,
  toJson,
  ts,
  type RawRow,
  type SagaRow,
  type SagaState,
  type StepRow,
} from './log.js';

export interface SagaOrchestratorOptions {
  storage: Storage;
  /** The PostgreSQL schema that holds the service's `sagas` and `saga_steps` (see `sagaTables`). */
  schema: string;
  logger?: Logger;
  clock?: Clock;
  /** This instance's name on leases. Must be unique per process: it fences every log write. */
  owner?: string;
  /** How long a claim lasts without renewal; a crashed instance's sagas are recovered after it. */
  leaseMs?: number;
  /** Sagas claimed per round of `recover()`. */
  recoveryBatch?: number;
  /**
   * Called after every log write commits: for metrics, tracing and fault injection in tests. A
   * throw from it stops the drive on the spot, as a crash at that point would.
   */
  onLog?: (entry: SagaLogEntry) => void;
  /** Waits between retries; tests may shorten it. */
  sleep?: (ms: number) => Promise<void>;
}

/** One committed write of the saga log. */
export interface SagaLogEntry {
  sagaId: string;
  saga: string;
  /** The saga's status after the write. */
  status: SagaStatus;
  /** Present when the write logged a step. */
  step?: { name: string; phase: StepPhase; status: StepStatus | 'RETRYING'; attempt: number };
}

export const SAGA_DEFAULTS = {
  leaseMs: 30_000,
  recoveryBatch: 16,
  /** Rounds of one `recover()` call: bounded so a flood of sagas cannot pin one caller forever. */
  recoveryRounds: 64,
} as const;

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

/** The saga being driven by this instance: its definition and its row as last written. */
interface Drive {
  readonly definition: SagaDefinition<unknown>;
  row: SagaRow;
  /**
   * The saga's first claim ever (attempts = 1): step rows are only written under a lease, so none
   * existed when this drive began, and one exists now only if this drive wrote it (`written`).
   * Lets a run step skip reading a log row that cannot be there.
   */
  readonly fresh: boolean;
  readonly written: Set<string>;
}

/** One (step row, saga row) change, committed together and fenced on our lease. */
interface LogWrite {
  /** Assignments to the saga row (besides the lease and updated_at, always set). */
  saga?: SQL[];
  /**
   * A statement on saga_steps, run in the same statement as the saga row's update. It must only
   * take effect when that fenced update matched: an update adds `and ${FENCED}` to its WHERE, an
   * insert selects its values `from fenced`.
   */
  step?: SQL;
  /** Give the lease up (the saga waits or is done). */
  release?: boolean;
  entry?: SagaLogEntry['step'];
}

/**
 * A log write is one statement: `with fenced as (update sagas ... where lease_owner = us returning *)`
 * then the step row's change, conditioned on `fenced` holding the row (our lease still held).
 */
const FENCED = sql.raw('exists (select 1 from fenced)');

const RECOVERABLE = sql`(
  status in ('RUNNING', 'COMPENSATING')
  or (status = 'WAITING' and wait_until is not null and wait_until <= now_param.at)
  or (status in ('COMPLETED', 'COMPENSATED', 'FAILED') and finished_at is null))`;

/**
 * Drives sagas durably. Every transition is one committed, lease-fenced write of the log in SQL,
 * so a process killed at any point leaves a log that tells the next instance what to do:
 *
 *   RUNNING(k):      write STARTED(k) → run step k → write DONE(k) + current_step = k+1
 *                    (abort → COMPENSATING from k-1; retries exhausted → COMPENSATING from k;
 *                     ctx.wait → WAITING, lease released)
 *   WAITING(k):      resume(signal) → RUNNING(k) and onSignal; past wait_until → COMPENSATING from k
 *   COMPENSATING(k): write STARTED(k) → compensate k → write DONE(k) + current_step = k-1
 *                    (retries exhausted → FAILED, for an operator)
 *   k = n → COMPLETED, k = -1 → COMPENSATED; then onFinished, then finished_at.
 *
 * A DONE step is never run again. A STARTED step without DONE is run again (at least once, so
 * steps are idempotent on `${sagaId}:${step}`).
 */
export class SagaOrchestrator {
  readonly owner: string;
  private readonly storage: Storage;
  private readonly logger: Logger | undefined;
  private readonly clock: Clock;
  private readonly leaseMs: number;
  private readonly recoveryBatch: number;
  private readonly onLog: ((entry: SagaLogEntry) => void) | undefined;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly sagas: SQL;
  private readonly steps: SQL;
  private readonly definitions = new Map<string, SagaDefinition<unknown>>();
  /** Drives in flight in this process, so a second caller shares the first one's outcome. */
  private readonly driving = new Map<string, Promise<SagaOutcome>>();
  private loop: { stopped: boolean; timer: NodeJS.Timeout | undefined; tick: Promise<void> | undefined } | undefined;

  constructor(options: SagaOrchestratorOptions) {
    this.storage = options.storage;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.owner = options.owner ?? newId();
    this.leaseMs = options.leaseMs ?? SAGA_DEFAULTS.leaseMs;
    this.recoveryBatch = options.recoveryBatch ?? SAGA_DEFAULTS.recoveryBatch;
    this.onLog = options.onLog;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.sagas = schemaTable(options.schema, 'sagas');
    this.steps = schemaTable(options.schema, 'saga_steps');
    if (!Number.isSafeInteger(this.leaseMs) || this.leaseMs < 10) throw new Error(`leaseMs must be an integer >= 10, got ${this.leaseMs}`);
    if (!Number.isSafeInteger(this.recoveryBatch) || this.recoveryBatch < 1) throw new Error('recoveryBatch must be >= 1');
    if (this.owner.length === 0 || this.owner.length > 200) throw new Error('owner must be 1..200 chars');
  }

  /** Makes a definition known, so this instance can start it and recover it. Register before `recover()`. */
  register<I>(definition: SagaDefinition<I>): this {
    const known = this.definitions.get(definition.name);
    if (known && known !== definition) throw new Error(`another saga named ${definition.name} is already registered`);
    this.definitions.set(definition.name, definition as SagaDefinition<unknown>);
    return this;
  }

  /**
   * Starts saga `sagaId` and drives it until it completes, is compensated or waits; returns its
   * outcome. Starting an id that exists does not start it twice: it continues it if nobody holds
   * it, or returns its current outcome (e.g. RUNNING on another instance).
   *
   * With `tx`, the saga row is only written inside the caller's transaction (so it commits or
   * rolls back with the caller's own rows) and not driven: call `drive(sagaId)` after the commit;
   * recovery drives it otherwise.
   */
  async start<I>(definition: SagaDefinition<I>, sagaId: string, input: I, options: { tx?: Tx } = {}): Promise<SagaOutcome<I>> {
    this.assertRegistered(definition);
    if (!isUuid(sagaId)) throw new Error(`saga id must be a UUID, got "${sagaId}"`);
    const now = this.clock.now();
    const stored = toJson(input);
    const initial: SagaState = { results: {} };
    const claim = options.tx === undefined;
    const inserted = await this.storage.query<RawRow>(
      sql`insert into ${this.sagas}
            (id, name, status, input, state, signals, current_step, attempts, lease_owner, lease_until, created_at, updated_at)
          values (${sagaId}::uuid, ${definition.name}, 'RUNNING', ${jsonb(stored)}, ${jsonb(initial)}, '{}'::jsonb, 0,
                  ${claim ? 1 : 0}, ${claim ? this.owner : null}, ${claim ? ts(this.leaseEnd(now)) : null}, ${ts(now)}, ${ts(now)})
          on conflict (id) do nothing
          returning *`,
      options.tx,
    );
    const created = inserted[0];
    if (created) {
      const row = sagaRowOf(created);
      this.observe(row);
      if (!claim) return outcomeOf<I>(row);
      return (await this.track(sagaId, () => this.driveClaimed(row))) as SagaOutcome<I>;
    }
    const existing = await this.read(sagaId, options.tx);
    if (!existing) throw new Error(`saga ${sagaId} vanished while starting`);
    if (existing.name !== definition.name) throw new Error(`saga ${sagaId} is a ${existing.name}, not a ${definition.name}`);
    if (!claim) return outcomeOf<I>(existing);
    return (await this.drive(sagaId)) as SagaOutcome<I>;
  }

  /**
   * Drives a saga if this instance can claim it (no live lease and something to do), and returns
   * its outcome; otherwise returns its current outcome.
   */
  async drive(sagaId: string): Promise<SagaOutcome> {
    const inFlight = this.driving.get(sagaId);
    if (inFlight) return inFlight;
    const now = this.clock.now();
    const claimed = await this.storage.query<RawRow>(sql`
      with now_param as (select ${ts(now)} as at)
      update ${this.sagas} set lease_owner = ${this.owner}, lease_until = ${ts(this.leaseEnd(now))},
             attempts = attempts + 1, updated_at = ${ts(now)}
      from now_param
      where id = ${sagaId}::uuid and ${this.registeredNames()}
        and (lease_until is null or lease_until < now_param.at) and ${RECOVERABLE}
      returning ${this.sagas}.*`);
    const row = claimed[0];
    if (row) return this.track(sagaId, () => this.driveClaimed(sagaRowOf(row)));
    const current = await this.outcome(sagaId);
    if (!current) throw notFound(`saga ${sagaId}`);
    return current;
  }

  /**
   * Delivers a signal to the waiting step `step` of a saga (e.g. a payment webhook) and drives
   * the saga on. The signal is stored first, so one that arrives before the step has even
   * returned `ctx.wait(...)` is not lost: the step then continues at once. The first signal per
   * step wins; duplicates are ignored.
   */
  async resume(sagaId: string, step: string, signal: unknown): Promise<SagaOutcome> {
    if (!isUuid(sagaId)) throw notFound(`saga ${sagaId}`);
    const stored = toJson(signal);
    const now = this.clock.now();
    const claimed = await this.storage.transaction(async (tx) => {
      const [raw] = await this.storage.query<RawRow>(sql`select * from ${this.sagas} where id = ${sagaId}::uuid for update`, tx);
      if (!raw) throw notFound(`saga ${sagaId}`);
      const row = sagaRowOf(raw);
      const definition = this.definitionOf(row.name);
      if (!definition.steps.some((s) => s.name === step)) throw new Error(`saga ${row.name} has no step "${step}"`);
      if (!Object.hasOwn(row.signals, step)) {
        await this.storage.query(
          sql`update ${this.sagas} set signals = signals || jsonb_build_object(${step}::text, ${jsonb(stored)}), updated_at = ${ts(now)}
              where id = ${sagaId}::uuid`,
          tx,
        );
      } else {
        this.logger?.info({ sagaId, step }, 'saga signal already delivered; duplicate ignored');
      }
      const leaseFree = row.leaseUntil === null || row.leaseUntil.getTime() < now.getTime();
      if (row.status !== 'WAITING' || row.state.waitingFor !== step || !leaseFree) return undefined;
      const [taken] = await this.storage.query<RawRow>(
        sql`update ${this.sagas} set status = 'RUNNING', wait_until = null, state = state - 'waitingFor',
                   lease_owner = ${this.owner}, lease_until = ${ts(this.leaseEnd(now))}, attempts = attempts + 1, updated_at = ${ts(now)}
            where id = ${sagaId}::uuid
            returning *`,
        tx,
      );
      return taken ? sagaRowOf(taken) : undefined;
    });
    if (claimed) {
      this.observe(claimed);
      return this.track(sagaId, () => this.driveClaimed(claimed));
    }
    const current = await this.outcome(sagaId);
    if (!current) throw notFound(`saga ${sagaId}`);
    return current;
  }

  /** The saga's current outcome, or undefined if there is no such saga. */
  async outcome(sagaId: string): Promise<SagaOutcome | undefined> {
    if (!isUuid(sagaId)) return undefined;
    const row = await this.read(sagaId);
    return row ? outcomeOf(row) : undefined;
  }

  /** The step log of a saga: its runs in order, then its compensations in (reverse) order. */
  async log(sagaId: string): Promise<StepRow[]> {
    const rows = await this.storage.query<RawRow>(
      sql`select * from ${this.steps} where saga_id = ${sagaId}::uuid
          order by phase desc, case when phase = 'run' then position else -position end`,
    );
    return rows.map(stepRowOf);
  }

  /**
   * Claims sagas that need a driver and have none (lease expired or never taken: left RUNNING or
   * COMPENSATING by a crash, WAITING past their deadline, terminal with onFinished not yet done),
   * then drives each. `FOR UPDATE SKIP LOCKED` lets any number of instances recover at once:
   * each saga goes to exactly one of them. Returns the outcomes of the sagas it drove.
   *
   * A saga started inside a caller's transaction and never claimed yet (attempts = 0) is left to
   * that caller, who drives it right after its commit, for one lease: as if the caller held a
   * lease from the start. Taking it sooner would make the caller find it driven elsewhere and
   * answer "still running" for work it was about to do itself.
   */
  async recover(): Promise<SagaOutcome[]> {
    const outcomes: SagaOutcome[] = [];
    if (this.definitions.size === 0) return outcomes;
    for (let round = 0; round < SAGA_DEFAULTS.recoveryRounds; round++) {
      const now = this.clock.now();
      const claimed = await this.storage.query<RawRow>(sql`
        with now_param as (select ${ts(now)} as at)
        update ${this.sagas} set lease_owner = ${this.owner}, lease_until = ${ts(this.leaseEnd(now))},
               attempts = attempts + 1, updated_at = ${ts(now)}
        from now_param
        where (lease_until is null or lease_until < now_param.at)
          and id in (
            select id from ${this.sagas}, now_param
            where ${this.registeredNames()} and (lease_until is null or lease_until < now_param.at) and ${RECOVERABLE}
              and (attempts > 0 or created_at < ${ts(new Date(now.getTime() - this.leaseMs))})
            order by updated_at
            limit ${this.recoveryBatch}
            for update of sagas skip locked)
        returning ${this.sagas}.*`);
      if (claimed.length === 0) break;
      const settled = await Promise.allSettled(
        claimed.map((raw) => {
          const row = sagaRowOf(raw);
          this.logger?.info({ sagaId: row.id, saga: row.name, status: row.status, step: row.currentStep }, 'recovering saga');
          return this.track(row.id, () => this.driveClaimed(row));
        }),
      );
      for (const result of settled) {
        if (result.status === 'fulfilled') outcomes.push(result.value);
        else this.logger?.error({ err: result.reason }, 'saga recovery: drive failed; it will be retried when its lease expires');
      }
      if (claimed.length < this.recoveryBatch) break;
    }
    return outcomes;
  }

  /** Runs `recover()` now and then every `intervalMs` until `stop()`. */
  startRecoveryLoop(intervalMs: number): void {
    if (this.loop) throw new Error('recovery loop already started');
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 10) throw new Error(`intervalMs must be an integer >= 10, got ${intervalMs}`);
    const loop: NonNullable<SagaOrchestrator['loop']> = { stopped: false, timer: undefined, tick: undefined };
    const tick = (): void => {
      loop.tick = this.recover()
        .then(() => undefined)
        .catch((err: unknown) => this.logger?.error({ err }, 'saga recovery round failed'))
        .finally(() => {
          loop.tick = undefined;
          if (!loop.stopped) {
            loop.timer = setTimeout(tick, intervalMs);
            loop.timer.unref();
          }
        });
    };
    this.loop = loop;
    tick();
  }

  /** Stops the recovery loop and waits for its round in flight. Sagas being driven keep their leases until done. */
  async stop(): Promise<void> {
    const loop = this.loop;
    if (!loop) return;
    loop.stopped = true;
    clearTimeout(loop.timer);
    await loop.tick;
    this.loop = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Driving one claimed saga

  private track(sagaId: string, work: () => Promise<SagaOutcome>): Promise<SagaOutcome> {
    const inFlight = this.driving.get(sagaId);
    if (inFlight) return inFlight;
    const promise = work().finally(() => this.driving.delete(sagaId));
    this.driving.set(sagaId, promise);
    return promise;
  }

  private async driveClaimed(row: SagaRow): Promise<SagaOutcome> {
    assert(row.leaseOwner === this.owner, 'a driven saga is leased to this instance');
    const drive: Drive = { definition: this.definitionOf(row.name), row, fresh: row.attempts === 1, written: new Set() };
    const heartbeat = this.startHeartbeat(drive);
    try {
      await this.advance(drive);
      return outcomeOf(drive.row);
    } catch (err) {
      if (!(err instanceof SagaLeaseLost)) throw err;
      this.logger?.warn({ sagaId: row.id }, 'saga lease lost; another instance drives it now');
      const current = await this.read(row.id);
      if (!current) throw notFound(`saga ${row.id}`);
      return outcomeOf(current);
    } finally {
      heartbeat.stop();
    }
  }

  /** The state machine: one transition per iteration, each ending in a committed log write. */
  private async advance(drive: Drive): Promise<void> {
    const stepCount = drive.definition.steps.length;
    for (;;) {
      const { row } = drive;
      assert(row.currentStep >= -1 && row.currentStep <= stepCount, `current_step ${row.currentStep} is within -1..${stepCount}`);
      switch (row.status) {
        case 'RUNNING':
          if (row.currentStep === stepCount) await this.settle(drive, 'COMPLETED');
          else await this.runStep(drive, row.currentStep);
          break;
        case 'WAITING':
          // Just paused (lease given up): done for now. Claimed back: its deadline passed.
          if (row.leaseOwner !== this.owner) return;
          await this.endWait(drive);
          break;
        case 'COMPENSATING':
          if (row.currentStep === -1) await this.settle(drive, 'COMPENSATED');
          else await this.compensateStep(drive, row.currentStep);
          break;
        case 'COMPLETED':
        case 'COMPENSATED':
        case 'FAILED':
          await this.finish(drive);
          return;
      }
    }
  }

  private async runStep(drive: Drive, index: number): Promise<void> {
    const step = this.stepAt(drive, index);
    const policy = retryPolicy(DEFAULT_RUN_RETRY, step.retry);
    const logged = drive.fresh && !drive.written.has(`${step.name}:run`) ? undefined : await this.readStep(drive.row.id, step.name, 'run');
    assert(logged?.status !== 'DONE', 'a DONE step has advanced current_step in the same transaction');
    // A step that returned ctx.wait and has its signal now turns the signal into its result.
    const signalled = logged?.status === 'WAITING';
    assert(!signalled || Object.hasOwn(drive.row.signals, step.name), 'a RUNNING saga at a waiting step has its signal');
    let attempt = logged?.attempts ?? 0;
    let lastError = logged?.error ?? 'no error recorded';
    for (;;) {
      if (attempt >= policy.attempts) {
        await this.failRun(drive, index, { kind: 'error', step: step.name, message: `gave up after ${attempt} attempts: ${lastError}` });
        return;
      }
      attempt += 1;
      drive.written.add(`${step.name}:run`);
      await this.write(drive, {
        step: signalled
          ? sql`update ${this.steps} set attempts = ${attempt}, error = null
                where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'run' and ${FENCED}`
          : sql`insert into ${this.steps} (saga_id, step, phase, position, status, attempts, started_at)
                select ${drive.row.id}::uuid, ${step.name}::text, 'run', ${index}::int, 'STARTED', ${attempt}::int, ${ts(this.clock.now())} from fenced
                on conflict (saga_id, step, phase) do update
                  set status = 'STARTED', attempts = excluded.attempts, error = null, result = null,
                      started_at = excluded.started_at, finished_at = null`,
        entry: { name: step.name, phase: 'run', status: signalled ? 'WAITING' : 'STARTED', attempt },
      });
      let produced: unknown;
      try {
        produced = signalled
          ? await this.callOnSignal(drive, step, attempt, logged?.result)
          : await step.run(this.stepContext(drive, step, attempt));
        if (!(produced instanceof WaitRequest)) produced = toJson(produced);
      } catch (err) {
        if (err instanceof SagaAbort) {
          await this.failRun(drive, index, { kind: 'aborted', step: step.name, reason: err.reason, ...(err.data === undefined ? {} : { data: toJson(err.data) }) });
          return;
        }
        lastError = errorMessage(err);
        this.logger?.warn({ sagaId: drive.row.id, step: step.name, attempt, err }, 'saga step failed');
        if (attempt >= policy.attempts) continue;
        await this.write(drive, {
          step: sql`update ${this.steps} set error = ${lastError} where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'run' and ${FENCED}`,
          entry: { name: step.name, phase: 'run', status: 'RETRYING', attempt },
        });
        await this.sleep(backoffDelay(policy, attempt));
        continue;
      }
      if (produced instanceof WaitRequest) {
        if (signalled) {
          await this.failRun(drive, index, { kind: 'error', step: step.name, message: 'onSignal may not wait again' });
          return;
        }
        await this.pause(drive, index, produced);
        return;
      }
      const state: SagaState = { ...drive.row.state, results: { ...drive.row.state.results, [step.name]: produced } };
      await this.write(drive, {
        saga: [sql`current_step = ${index + 1}`, sql`state = ${jsonb(state)}`],
        step: sql`update ${this.steps} set status = 'DONE', result = ${jsonb(produced)}, error = null, finished_at = ${ts(this.clock.now())}
                  where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'run' and ${FENCED}`,
        entry: { name: step.name, phase: 'run', status: 'DONE', attempt },
      });
      return;
    }
  }

  private callOnSignal(drive: Drive, step: SagaStep<unknown>, attempt: number, waitData: unknown): Promise<unknown> {
    const signal = drive.row.signals[step.name];
    if (!step.onSignal) return Promise.resolve(signal);
    const ctx: SignalContext<unknown> = { ...this.stepContext(drive, step, attempt), signal, waitData };
    return step.onSignal(ctx);
  }

  /**
   * Ends the forward run at step `index`. An abort compensates the steps before it (the aborting
   * step holds nothing); an error or a timeout compensates it too (it may have taken effect).
   */
  private async failRun(drive: Drive, index: number, failure: SagaFailure): Promise<void> {
    const step = this.stepAt(drive, index);
    const from = failure.kind === 'aborted' ? index - 1 : index;
    const state: SagaState = { ...drive.row.state, failure };
    delete state.waitingFor;
    const error = failure.kind === 'aborted' ? `aborted: ${failure.reason}` : failure.kind === 'timeout' ? 'timed out waiting for a signal' : failure.message;
    const data = failure.kind === 'aborted' ? sql`, result = ${jsonb(failure.data ?? null)}` : sql``;
    await this.write(drive, {
      saga: [sql`status = 'COMPENSATING'`, sql`current_step = ${from}`, sql`state = ${jsonb(state)}`, sql`wait_until = null`],
      step: sql`update ${this.steps} set status = 'FAILED', error = ${error}, finished_at = ${ts(this.clock.now())} ${data}
                where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'run' and ${FENCED}`,
      entry: { name: step.name, phase: 'run', status: 'FAILED', attempt: 0 },
    });
    this.logger?.info({ sagaId: drive.row.id, saga: drive.row.name, failure }, 'saga compensating');
  }

  /**
   * The step returned ctx.wait: give the lease up and wait for `resume`, unless its signal came
   * first (checked under the saga's row lock, which `resume` takes too, so neither side misses
   * the other).
   */
  private async pause(drive: Drive, index: number, wait: WaitRequest): Promise<void> {
    const step = this.stepAt(drive, index);
    const now = this.clock.now();
    if (wait.until !== undefined) {
      assert(wait.until.getTime() - now.getTime() <= SAGA_LIMITS.maxWaitMs, `a wait ends within ${SAGA_LIMITS.maxWaitMs} ms`);
    }
    const row = await this.storage.transaction(async (tx) => {
      const [locked] = await this.storage.query<RawRow>(sql`select * from ${this.sagas} where id = ${drive.row.id}::uuid for update`, tx);
      if (!locked || locked.lease_owner !== this.owner) throw new SagaLeaseLost(drive.row.id, this.owner);
      const signalled = Object.hasOwn(sagaRowOf(locked).signals, step.name);
      await this.storage.query(
        sql`update ${this.steps} set status = 'WAITING', result = ${jsonb(wait.data ?? null)}, attempts = 0, error = null
            where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'run'`,
        tx,
      );
      const change = signalled
        ? sql`lease_until = ${ts(this.leaseEnd(now))}`
        : sql`status = 'WAITING', wait_until = ${wait.until ? ts(wait.until) : null},
              state = ${jsonb({ ...drive.row.state, waitingFor: step.name })}, lease_owner = null, lease_until = null`;
      const [updated] = await this.storage.query<RawRow>(
        sql`update ${this.sagas} set ${change}, updated_at = ${ts(now)} where id = ${drive.row.id}::uuid returning *`,
        tx,
      );
      assert(updated !== undefined, 'the locked saga row is updated');
      return sagaRowOf(updated);
    });
    drive.row = row;
    this.observe(row, { name: step.name, phase: 'run', status: 'WAITING', attempt: 0 });
  }

  /** A WAITING saga claimed back by recovery: its signal won the race, or its deadline passed. */
  private async endWait(drive: Drive): Promise<void> {
    const index = drive.row.currentStep;
    const step = this.stepAt(drive, index);
    assert(drive.row.state.waitingFor === step.name, 'the waiting step is the current step');
    if (Object.hasOwn(drive.row.signals, step.name)) {
      const state: SagaState = { ...drive.row.state };
      delete state.waitingFor;
      await this.write(drive, { saga: [sql`status = 'RUNNING'`, sql`wait_until = null`, sql`state = ${jsonb(state)}`] });
      return;
    }
    const deadline = drive.row.waitUntil;
    assert(deadline !== null && deadline.getTime() <= this.clock.now().getTime(), 'a waiting saga is only claimed past its deadline');
    this.logger?.info({ sagaId: drive.row.id, step: step.name }, 'saga wait timed out');
    await this.failRun(drive, index, { kind: 'timeout', step: step.name });
  }

  private async compensateStep(drive: Drive, index: number): Promise<void> {
    const step = this.stepAt(drive, index);
    if (!step.compensate) {
      await this.write(drive, { saga: [sql`current_step = ${index - 1}`] });
      return;
    }
    const failure = drive.row.state.failure;
    assert(failure !== undefined, 'a compensating saga has a failure');
    const policy = retryPolicy(DEFAULT_COMPENSATE_RETRY, step.compensateRetry);
    const logged = await this.readStep(drive.row.id, step.name, 'compensate');
    assert(logged?.status !== 'DONE', 'a DONE compensation has moved current_step down in the same transaction');
    const ran = await this.readStep(drive.row.id, step.name, 'run');
    let attempt = logged?.attempts ?? 0;
    let lastError = logged?.error ?? 'no error recorded';
    for (;;) {
      if (attempt >= policy.attempts) {
        const compensationError = { step: step.name, message: `gave up after ${attempt} attempts: ${lastError}` };
        await this.write(drive, {
          saga: [sql`status = 'FAILED'`, sql`state = ${jsonb({ ...drive.row.state, compensationError })}`, sql`finished_at = null`],
          step: sql`update ${this.steps} set status = 'FAILED', error = ${compensationError.message}, finished_at = ${ts(this.clock.now())}
                    where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'compensate' and ${FENCED}`,
          entry: { name: step.name, phase: 'compensate', status: 'FAILED', attempt },
        });
        this.logger?.error({ sagaId: drive.row.id, saga: drive.row.name, ...compensationError }, 'saga compensation gave up: needs an operator');
        return;
      }
      attempt += 1;
      await this.write(drive, {
        step: sql`insert into ${this.steps} (saga_id, step, phase, position, status, attempts, started_at)
                  select ${drive.row.id}::uuid, ${step.name}::text, 'compensate', ${index}::int, 'STARTED', ${attempt}::int, ${ts(this.clock.now())} from fenced
                  on conflict (saga_id, step, phase) do update
                    set status = 'STARTED', attempts = excluded.attempts, error = null, started_at = excluded.started_at, finished_at = null`,
        entry: { name: step.name, phase: 'compensate', status: 'STARTED', attempt },
      });
      try {
        const ctx: CompensationContext<unknown> = { ...this.baseContext(drive, step, attempt), stepResult: ran?.result ?? undefined, failure };
        await step.compensate(ctx);
      } catch (err) {
        lastError = errorMessage(err);
        this.logger?.warn({ sagaId: drive.row.id, step: step.name, attempt, err }, 'saga compensation failed');
        if (attempt >= policy.attempts) continue;
        await this.write(drive, {
          step: sql`update ${this.steps} set error = ${lastError} where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'compensate' and ${FENCED}`,
          entry: { name: step.name, phase: 'compensate', status: 'RETRYING', attempt },
        });
        await this.sleep(backoffDelay(policy, attempt));
        continue;
      }
      await this.write(drive, {
        saga: [sql`current_step = ${index - 1}`],
        step: sql`update ${this.steps} set status = 'DONE', error = null, finished_at = ${ts(this.clock.now())}
                  where saga_id = ${drive.row.id}::uuid and step = ${step.name} and phase = 'compensate' and ${FENCED}`,
        entry: { name: step.name, phase: 'compensate', status: 'DONE', attempt },
      });
      return;
    }
  }

  /** COMPLETED or COMPENSATED. Without onFinished the saga is finished (and released) in the same write. */
  private async settle(drive: Drive, status: 'COMPLETED' | 'COMPENSATED'): Promise<void> {
    const hasFinisher = drive.definition.onFinished !== undefined;
    await this.write(drive, {
      saga: [sql`status = ${status}`, sql`finished_at = ${hasFinisher ? null : ts(this.clock.now())}`],
      release: !hasFinisher,
    });
    this.logger?.info({ sagaId: drive.row.id, saga: drive.row.name, status }, 'saga settled');
  }

  /** Runs onFinished (at least once overall; retried here, then by recovery) and gives the lease up. */
  private async finish(drive: Drive): Promise<void> {
    const onFinished = drive.definition.onFinished;
    if (drive.row.finishedAt === null && onFinished) {
      const policy = retryPolicy(DEFAULT_RUN_RETRY, drive.definition.finishRetry);
      const ctx = { sagaId: drive.row.id, sagaName: drive.row.name, input: drive.row.input, idempotencyKey: `${drive.row.id}:finished` };
      for (let attempt = 1; ; attempt++) {
        try {
          await onFinished.call(drive.definition, ctx, outcomeOf(drive.row));
          break;
        } catch (err) {
          this.logger?.warn({ sagaId: drive.row.id, attempt, err }, 'saga onFinished failed');
          if (attempt >= policy.attempts) {
            this.logger?.error({ sagaId: drive.row.id }, 'saga onFinished gave up for now; recovery will run it again');
            await this.write(drive, { release: true });
            return;
          }
          await this.sleep(backoffDelay(policy, attempt));
        }
      }
      await this.write(drive, { saga: [sql`finished_at = ${ts(this.clock.now())}`], release: true });
      return;
    }
    if (drive.row.finishedAt === null) await this.write(drive, { saga: [sql`finished_at = ${ts(this.clock.now())}`], release: true });
    else if (drive.row.leaseOwner === this.owner) await this.write(drive, { release: true });
  }

  // ---------------------------------------------------------------------------------------------
  // The log

  /**
   * One committed statement (so one transaction, one round trip): update the saga row only if we
   * still hold its lease (the fence), renewing or releasing the lease, and change the step row
   * only if that update matched. Zero rows means our lease was taken over, and nothing changed.
   */
  private async write(drive: Drive, change: LogWrite): Promise<void> {
    const now = this.clock.now();
    const lease = change.release ? sql`lease_owner = null, lease_until = null` : sql`lease_until = ${ts(this.leaseEnd(now))}`;
    const assignments = sql.join([...(change.saga ?? []), lease, sql`updated_at = ${ts(now)}`], sql`, `);
    const [updated] = await this.storage.query<RawRow>(sql`
      with fenced as (
        update ${this.sagas} set ${assignments} where id = ${drive.row.id}::uuid and lease_owner = ${this.owner} returning *
      )${change.step ? sql`, step_write as (${change.step})` : sql``}
      select * from fenced`);
    if (!updated) throw new SagaLeaseLost(drive.row.id, this.owner);
    const row = sagaRowOf(updated);
    drive.row = row;
    this.observe(row, change.entry);
  }

  private observe(row: SagaRow, step?: SagaLogEntry['step']): void {
    if (!this.onLog) return;
    this.onLog({ sagaId: row.id, saga: row.name, status: row.status, ...(step ? { step } : {}) });
  }

  /** Renews the lease while a step runs long; a renewal that finds the lease gone leaves it to the next (fenced) write. */
  private startHeartbeat(drive: Drive): { stop(): void } {
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

  private async read(sagaId: string, tx?: Tx): Promise<SagaRow | undefined> {
    const [raw] = await this.storage.query<RawRow>(sql`select * from ${this.sagas} where id = ${sagaId}::uuid`, tx);
    return raw ? sagaRowOf(raw) : undefined;
  }

  private async readStep(sagaId: string, step: string, phase: StepPhase): Promise<StepRow | undefined> {
    const [raw] = await this.storage.query<RawRow>(
      sql`select * from ${this.steps} where saga_id = ${sagaId}::uuid and step = ${step} and phase = ${phase}`,
    );
    return raw ? stepRowOf(raw) : undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Contexts and helpers

  private baseContext(drive: Drive, step: SagaStep<unknown>, attempt: number) {
    const results = drive.row.state.results;
    return {
      sagaId: drive.row.id,
      sagaName: drive.row.name,
      step: step.name,
      input: drive.row.input,
      idempotencyKey: `${drive.row.id}:${step.name}`,
      attempt,
      results,
      result<T>(name: string): T {
        if (!Object.hasOwn(results, name)) throw new Error(`step "${name}" has no result (not completed before "${step.name}")`);
        return results[name] as T;
      },
    };
  }

  private stepContext(drive: Drive, step: SagaStep<unknown>, attempt: number): StepContext<unknown> {
    return {
      ...this.baseContext(drive, step, attempt),
      abort(reason: string, data?: unknown): never {
        throw new SagaAbort(reason, data);
      },
      wait(options: { until?: Date; data?: unknown } = {}): WaitRequest {
        return new WaitRequest(options.until, options.data);
      },
    };
  }

  private stepAt(drive: Drive, index: number): SagaStep<unknown> {
    const step = drive.definition.steps[index];
    assert(step !== undefined, `saga ${drive.definition.name} has a step ${index}`);
    return step;
  }

  private definitionOf(name: string): SagaDefinition<unknown> {
    const definition = this.definitions.get(name);
    if (!definition) throw new Error(`saga ${name} is not registered on this orchestrator`);
    return definition;
  }

  private assertRegistered(definition: SagaDefinition<unknown>): void {
    if (this.definitions.get(definition.name) !== definition) {
      throw new Error(`register saga ${definition.name} before starting it (recovery needs it too)`);
    }
  }

  /** Only sagas this instance knows how to drive are claimed. */
  private registeredNames(): SQL {
    const names = [...this.definitions.keys()].map((name) => sql`${name}`);
    if (names.length === 0) return sql`false`;
    return sql`name in (${sql.join(names, sql`, `)})`;
  }

  private leaseEnd(now: Date): Date {
    return new Date(now.getTime() + this.leaseMs);
  }
}

/** An invariant of the orchestrator itself (TigerBeetle style): failing one is a bug, never a business case. */
function assert(condition: boolean, invariant: string): asserts condition {
  if (!condition) throw new Error(`saga invariant violated: ${invariant}`);
}

export const isTerminalSagaStatus = (status: SagaStatus): boolean => TERMINAL_SAGA_STATUSES.includes(status);
