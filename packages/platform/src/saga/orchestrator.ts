import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type SQL } from 'drizzle-orm';
import { isUuid, newId, notFound, systemClock, type Clock } from '@agora/kernel';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { sagaMetricsObserver } from './metrics.js';
import type { Storage, Tx } from '../storage/storage.js';
import type { SagaDefinition, SagaOutcome } from './definition.js';
import { SagaDriver } from './driver.js';
import { SagaLogWriter, type SagaLogEntry } from './log-writer.js';
import { RecoveryLoop, claimSagas } from './recovery.js';
import { jsonb, outcomeOf, sagaRowOf, schemaTable, stepRowOf, toJson, ts, type RawRow, type SagaRow, type StepRow } from './log.js';

export { SagaLeaseLost, type SagaLogEntry } from './log-writer.js';

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
   * Called after every log write commits (`durable: true`) and at the points a replayed step
   * passes without writing (`durable: false`): for metrics, tracing and fault injection in tests.
   * A throw from it stops the drive on the spot, as a crash at that point would.
   */
  onLog?: (entry: SagaLogEntry) => void;
  /** Where step and saga durations go (saga/metrics.ts); none without it. */
  metrics?: Metrics;
  /** Waits between retries; tests may shorten it. */
  sleep?: (ms: number) => Promise<void>;
}

export const SAGA_DEFAULTS = {
  leaseMs: 30_000,
  recoveryBatch: 16,
  /** Rounds of one `recover()` call: bounded so a flood of sagas cannot pin one caller forever. */
  recoveryRounds: 64,
} as const;

/** A saga begun inside a caller's transaction: drive it once that transaction has committed. */
export interface SagaHandle {
  readonly sagaId: string;
  /** False when the id existed already (a retry): `drive()` then claims it like `drive(sagaId)`. */
  readonly created: boolean;
  drive(): Promise<SagaOutcome>;
}

/**
 * The public face of the saga machinery: start, begin (inside a caller's transaction), drive,
 * resume with a signal, read outcomes, recover what crashed instances left. Driving one saga is
 * driver.ts's job, the log's reads and writes log-writer.ts's; every transition ends in one
 * lease-fenced write, so a process killed at any point leaves a log that tells the next instance
 * what to do. Steps are at least once, idempotent on `${sagaId}:${step}`.
 */
export class SagaOrchestrator {
  readonly owner: string;
  private readonly storage: Storage;
  private readonly logger: Logger | undefined;
  private readonly clock: Clock;
  private readonly leaseMs: number;
  private readonly recoveryBatch: number;
  private readonly sagas: SQL;
  private readonly steps: SQL;
  private readonly logWriter: SagaLogWriter;
  private readonly driver: SagaDriver;
  private readonly definitions = new Map<string, SagaDefinition<unknown>>();
  /** Drives in flight in this process, so a second caller shares the first one's outcome. */
  private readonly driving = new Map<string, Promise<SagaOutcome>>();
  private loop: RecoveryLoop | undefined;

  constructor(options: SagaOrchestratorOptions) {
    this.storage = options.storage;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.owner = options.owner ?? newId();
    this.leaseMs = options.leaseMs ?? SAGA_DEFAULTS.leaseMs;
    this.recoveryBatch = options.recoveryBatch ?? SAGA_DEFAULTS.recoveryBatch;
    this.sagas = schemaTable(options.schema, 'sagas');
    this.steps = schemaTable(options.schema, 'saga_steps');
    if (!Number.isSafeInteger(this.leaseMs) || this.leaseMs < 10) throw new Error(`leaseMs must be an integer >= 10, got ${this.leaseMs}`);
    if (!Number.isSafeInteger(this.recoveryBatch) || this.recoveryBatch < 1) throw new Error('recoveryBatch must be >= 1');
    if (this.owner.length === 0 || this.owner.length > 200) throw new Error('owner must be 1..200 chars');
    const observers = [options.metrics ? sagaMetricsObserver(options.metrics) : undefined, options.onLog].filter((o) => o !== undefined);
    const onLog = observers.length > 1 ? (entry: SagaLogEntry) => observers.forEach((observe) => observe(entry)) : observers[0];
    this.logWriter = new SagaLogWriter(this.storage, options.schema, this.owner, this.leaseMs, this.clock, this.logger, onLog);
    this.driver = new SagaDriver({ log: this.logWriter, clock: this.clock, sleep: options.sleep ?? ((ms: number) => sleep(ms)), logger: this.logger });
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
   * it, or returns its current outcome (e.g. RUNNING on another instance). To start a saga
   * together with the caller's own rows, see `begin` and `birth`.
   */
  async start<I>(definition: SagaDefinition<I>, sagaId: string, input: I): Promise<SagaOutcome<I>> {
    const birth = this.birth(definition, sagaId, input);
    if (await this.born(birth)) return (await birth.handle.drive()) as SagaOutcome<I>;
    const existing = await this.logWriter.read(sagaId);
    if (!existing) throw new Error(`saga ${sagaId} vanished while starting`);
    if (existing.name !== definition.name) throw new Error(`saga ${sagaId} is a ${existing.name}, not a ${definition.name}`);
    return (await this.drive(sagaId)) as SagaOutcome<I>;
  }

  /**
   * Starts a saga inside the caller's transaction, born leased to this instance: the insert is
   * the claim (attempts = 1), so `handle.drive()` after the caller's commit runs it with no write
   * of its own. If the transaction rolls back the saga never existed; if this process dies before
   * or while driving it, recovery takes it over once the lease runs out.
   */
  async begin<I>(definition: SagaDefinition<I>, sagaId: string, input: I, tx: Tx): Promise<SagaHandle> {
    const birth = this.birth(definition, sagaId, input);
    return (await this.born(birth, tx)) ? birth.handle : { sagaId, created: false, drive: () => this.drive(sagaId) };
  }

  /** Inserts a saga on its own (in `tx` if given); false when its id exists already. */
  private async born(birth: { insert(condition: SQL): SQL }, tx?: Tx): Promise<boolean> {
    const rows = await this.storage.query<RawRow>(sql`${birth.insert(sql`true`)} on conflict (id) do nothing returning id`, tx);
    return rows.length > 0;
  }

  /**
   * A saga's birth as a statement to embed in the caller's own (e.g. a CTE that also inserts the
   * order, so both commit in ONE statement): `insert(condition)` inserts the saga, leased to this
   * instance, only where `condition` holds (e.g. `exists (select 1 from the_order_cte)`). Drive
   * `handle` only once that statement has committed and inserted the saga.
   */
  birth<I>(definition: SagaDefinition<I>, sagaId: string, input: I): { insert(condition: SQL): SQL; handle: SagaHandle } {
    this.assertRegistered(definition);
    if (!isUuid(sagaId)) throw new Error(`saga id must be a UUID, got "${sagaId}"`);
    const now = this.clock.now();
    const stored = toJson(input);
    const row: SagaRow = {
      id: sagaId,
      name: definition.name,
      status: 'RUNNING',
      input: stored,
      state: { results: {} },
      signals: {},
      currentStep: 0,
      attempts: 1,
      leaseOwner: this.owner,
      leaseUntil: this.leaseEnd(now),
      waitUntil: null,
      finishedAt: null,
      createdAt: now,
      updatedAt: now,
    };
    return {
      insert: (condition) =>
        sql`insert into ${this.sagas}
              (id, name, status, input, state, signals, current_step, attempts, lease_owner, lease_until, created_at, updated_at)
            select ${sagaId}::uuid, ${row.name}, 'RUNNING', ${jsonb(stored)}, ${jsonb(row.state)}, '{}'::jsonb, 0,
                   1, ${this.owner}, ${ts(this.leaseEnd(now))}, ${ts(now)}, ${ts(now)}
            where ${condition}`,
      handle: {
        sagaId,
        created: true,
        drive: () => {
          this.logWriter.observe(row, true);
          return this.track(sagaId, () => this.driveClaimed(row));
        },
      },
    };
  }

  /**
   * Drives a saga if this instance can claim it (no live lease and something to do), and returns
   * its outcome; otherwise returns its current outcome.
   */
  async drive(sagaId: string): Promise<SagaOutcome> {
    const inFlight = this.driving.get(sagaId);
    if (inFlight) return inFlight;
    const [row] = await claimSagas(this.logWriter, { names: this.registeredNames(), now: this.clock.now(), only: { id: sagaId } });
    if (row) return this.track(sagaId, () => this.driveClaimed(row));
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
      this.logWriter.observe(claimed, true);
      return this.track(sagaId, () => this.driveClaimed(claimed));
    }
    const current = await this.outcome(sagaId);
    if (!current) throw notFound(`saga ${sagaId}`);
    return current;
  }

  /** The saga's current outcome, or undefined if there is no such saga. */
  async outcome(sagaId: string): Promise<SagaOutcome | undefined> {
    if (!isUuid(sagaId)) return undefined;
    const row = await this.logWriter.read(sagaId);
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
   * Claims sagas that need a driver and have none (recovery.ts), then drives each; any number of
   * instances may recover at once. Returns the outcomes of the sagas it drove.
   */
  async recover(): Promise<SagaOutcome[]> {
    const outcomes: SagaOutcome[] = [];
    if (this.definitions.size === 0) return outcomes;
    for (let round = 0; round < SAGA_DEFAULTS.recoveryRounds; round++) {
      const claimed = await claimSagas(this.logWriter, { names: this.registeredNames(), now: this.clock.now(), only: { limit: this.recoveryBatch } });
      if (claimed.length === 0) break;
      const settled = await Promise.allSettled(
        claimed.map((row) => {
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
    this.loop = new RecoveryLoop(() => this.recover(), intervalMs, this.logger);
    this.loop.start();
  }

  /** Stops the recovery loop and waits for its round in flight. Sagas being driven keep their leases until done. */
  async stop(): Promise<void> {
    await this.loop?.stop();
    this.loop = undefined;
  }

  private track(sagaId: string, work: () => Promise<SagaOutcome>): Promise<SagaOutcome> {
    const inFlight = this.driving.get(sagaId);
    if (inFlight) return inFlight;
    const promise = work().finally(() => this.driving.delete(sagaId));
    this.driving.set(sagaId, promise);
    return promise;
  }

  private driveClaimed(row: SagaRow): Promise<SagaOutcome> {
    return this.driver.drive(this.definitionOf(row.name), row);
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
    return this.logWriter.leaseEnd(now);
  }
}
