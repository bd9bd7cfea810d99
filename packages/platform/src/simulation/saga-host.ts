import { sql } from 'drizzle-orm';
import { notFound } from '@agora/kernel';
import type { FusedWrites, SagaDefinition, SagaOutcome } from '../saga/definition.js';
import { SagaDriver } from '../saga/driver.js';
import { SagaLeaseLost, SagaLogWriter, SagaPreconditionFailed, type Drive, type LogWrite, type SagaLogEntry } from '../saga/log-writer.js';
import { outcomeOf, toJson, type SagaRow, type StepRow } from '../saga/log.js';
import type { StepPhase } from '../saga/definition.js';
import type { Storage, Tx } from '../storage/storage.js';
import type { SimProcess } from './process.js';

/**
 * The REAL saga driver (saga/driver.ts, compensation.ts, ending.ts, transient.ts: every
 * transition, retry, park and compensation) over a MODEL of its log: the `sagas` table as rows in
 * memory, owned by no process (durable), each write one atomic statement fenced on the lease
 * exactly as log-writer.ts's SQL is. What the model leaves out: step rows (only bracketed steps
 * and waits write them; the checkout has neither once payments are synchronous), `local` steps and
 * waits (they need the SQL transaction), which this host refuses.
 */

/** A fused step's writes as the model applies them: a check and an effect, atomic with the checkpoint. */
export interface SimFusedWrite {
  precondition(): boolean;
  apply(): void;
}

const fusedModels = new WeakMap<object, SimFusedWrite>();

/** What a model store returns where a real one returns SQL parts for a fused checkpoint. */
export function simFusedWrites(model: SimFusedWrite): FusedWrites {
  const parts = (): never => {
    throw new Error('sim: fused parts are applied by the model saga log, never rendered as SQL');
  };
  fusedModels.set(parts, model);
  return { precondition: sql`true`, parts };
}

/** The durable saga table: survives every crash; every access is one atomic statement. */
export class SimSagaTable {
  private readonly rows = new Map<string, SagaRow>();

  get(id: string): SagaRow | undefined {
    const row = this.rows.get(id);
    return row ? structuredClone(row) : undefined;
  }

  put(row: SagaRow): void {
    this.rows.set(row.id, structuredClone(row));
  }

  has(id: string): boolean {
    return this.rows.has(id);
  }

  all(): SagaRow[] {
    return [...this.rows.values()].map((row) => structuredClone(row));
  }

  /** Rows matching `where` (read in place, copied out): a claim's scan without copying the whole table. */
  select(where: (row: Readonly<SagaRow>) => boolean): SagaRow[] {
    const found: SagaRow[] = [];
    for (const row of this.rows.values()) if (where(row)) found.push(structuredClone(row));
    return found;
  }

  /** Whether every saga is finished (its onFinished ran, its lease given up). */
  allFinished(): boolean {
    for (const row of this.rows.values()) if (row.finishedAt === null) return false;
    return true;
  }
}

/** What `new SagaLogWriter` needs of a storage it never uses here; a use is a modelling gap. */
const unmodelledStorage = new Proxy({} as Storage, {
  get(_target, property) {
    throw new Error(`sim: the saga log model has no SQL storage (storage.${String(property)}: local steps and waits are not modelled)`);
  },
});

/** The saga log writer with its SQL replaced by the model table; every write is a statement of `process`'s database. */
export class SimSagaLog extends SagaLogWriter {
  constructor(
    private readonly table: SimSagaTable,
    private readonly process: SimProcess,
    owner: string,
    leaseMs: number,
    onLog: (entry: SagaLogEntry) => void,
  ) {
    super(unmodelledStorage, 'sim', owner, leaseMs, process.rt.clock, undefined, onLog);
  }

  override async write(drive: Drive, change: LogWrite, tx?: Tx): Promise<SagaRow> {
    if (tx) throw new Error('sim: a log write inside a transaction (local step or wait) is not modelled');
    const written = await this.process.statement(`saga write ${change.entry?.name ?? change.status ?? 'checkpoint'}`, () => {
      const now = this.process.rt.clock.now();
      const current = this.table.get(drive.row.id);
      const fused = change.fused ? fusedModels.get(change.fused.parts) : undefined;
      if (change.fused && !fused) throw new Error('sim: a fused write not made by simFusedWrites');
      const fenced = current !== undefined && current.leaseOwner === this.owner;
      if (!fenced) return { lost: true as const };
      if (fused && !fused.precondition()) return { precondition: true as const };
      const row: SagaRow = {
        ...current,
        status: change.status ?? drive.row.status,
        currentStep: change.currentStep ?? drive.row.currentStep,
        state: toJson(change.state ?? drive.row.state) as SagaRow['state'],
        leaseOwner: change.release ? null : current.leaseOwner,
        leaseUntil: change.release ? null : (change.parkUntil ?? this.leaseEnd(now)),
        updatedAt: now,
      };
      if (change.waitUntil !== undefined) row.waitUntil = change.waitUntil;
      if (change.finished !== undefined) row.finishedAt = change.finished ? now : null;
      fused?.apply();
      this.table.put(row);
      return { row };
    });
    if ('lost' in written) {
      this.process.rt.trace(`${this.owner} fenced off saga ${drive.row.id.slice(0, 8)}: lease lost`);
      throw new SagaLeaseLost(drive.row.id, this.owner);
    }
    if ('precondition' in written) {
      this.process.rt.trace(`${this.owner} saga ${drive.row.id.slice(0, 8)}: fused precondition failed`);
      throw new SagaPreconditionFailed(drive.row.id);
    }
    this.committed(drive, written.row, change.entry);
    return written.row;
  }

  override async read(sagaId: string): Promise<SagaRow | undefined> {
    return this.process.statement('saga read', () => this.table.get(sagaId));
  }

  override readStep(sagaId: string, step: string, phase: StepPhase): Promise<StepRow | undefined> {
    return Promise.reject(new Error(`sim: step rows are not modelled (read of ${sagaId} ${step} ${phase}: a bracketed step or a wait)`));
  }

  /** Renews the lease on the process's virtual timers, as the real heartbeat does on the wall clock's. */
  override startHeartbeat(drive: Drive): { stop(): void } {
    return this.process.every(Math.max(5, Math.floor(this.leaseMs / 3)), () => {
      void this.process
        .statement('saga heartbeat', () => {
          const row = this.table.get(drive.row.id);
          if (!row || row.leaseOwner !== this.owner) return;
          this.table.put({ ...row, leaseUntil: this.leaseEnd(this.process.rt.clock.now()) });
        })
        .catch(() => undefined);
    });
  }
}

export interface SimSagaHostOptions {
  table: SimSagaTable;
  process: SimProcess;
  leaseMs: number;
  recoveryBatch: number;
  /** Called at every entry of the log (durable or not); a throw stops the drive there, as a crash would. */
  onLog: (entry: SagaLogEntry) => void;
}

/**
 * What `SagaOrchestrator` does around the driver — birth, claim, drive, recover — for one
 * process's life, over the model table. Claims follow recovery.ts: a saga is recoverable when it is
 * unfinished (RUNNING, COMPENSATING, terminal without finished_at) and its lease is free.
 */
export class SimSagaHost {
  readonly owner: string;
  readonly log: SimSagaLog;
  private readonly driver: SagaDriver;
  private readonly driving = new Map<string, Promise<SagaOutcome>>();
  private readonly definitions = new Map<string, SagaDefinition<unknown>>();

  constructor(private readonly options: SimSagaHostOptions) {
    const { process } = options;
    this.owner = `${process.name}#${process.incarnation}`;
    this.log = new SimSagaLog(options.table, process, this.owner, options.leaseMs, options.onLog);
    const { rt } = process;
    this.driver = new SagaDriver({
      log: this.log,
      clock: rt.clock,
      sleep: process.sleep,
      logger: undefined,
      retryTiming: { random: () => rt.random.next(), now: () => rt.clock.now().getTime() },
    });
  }

  register<I>(definition: SagaDefinition<I>): this {
    this.definitions.set(definition.name, definition as SagaDefinition<unknown>);
    return this;
  }

  /** A saga's row as born leased to this host (attempts 1), for the caller's own atomic statement to insert. */
  birth<I>(definition: SagaDefinition<I>, sagaId: string, input: I): SagaRow {
    const now = this.options.process.rt.clock.now();
    return {
      id: sagaId,
      name: definition.name,
      status: 'RUNNING',
      input: toJson(input),
      state: { results: {} },
      signals: {},
      currentStep: 0,
      attempts: 1,
      leaseOwner: this.owner,
      leaseUntil: this.log.leaseEnd(now),
      waitUntil: null,
      finishedAt: null,
      createdAt: now,
      updatedAt: now,
    };
  }

  /** Drives a saga born leased to us, once the statement that inserted it has committed. */
  driveBorn(row: SagaRow): Promise<SagaOutcome> {
    this.log.observe(row, true);
    return this.track(row.id, () => this.driver.drive(this.definitionOf(row.name), row));
  }

  /** Drives a saga if its lease is free and it has work left; else answers its outcome as it stands. */
  async drive(sagaId: string): Promise<SagaOutcome> {
    const inFlight = this.driving.get(sagaId);
    if (inFlight) return inFlight;
    const [row] = await this.claim({ id: sagaId });
    if (row) return this.track(sagaId, () => this.driver.drive(this.definitionOf(row.name), row));
    const current = await this.log.read(sagaId);
    if (!current) throw notFound(`saga ${sagaId}`);
    return outcomeOf(current);
  }

  /** One round of recovery: claims the oldest recoverable sagas with a free lease and drives them. */
  async recover(): Promise<void> {
    const claimed = await this.claim({ limit: this.options.recoveryBatch });
    await Promise.allSettled(claimed.map((row) => this.track(row.id, () => this.driver.drive(this.definitionOf(row.name), row))));
  }

  private claim(only: { id: string } | { limit: number }): Promise<SagaRow[]> {
    const { process, table } = this.options;
    return process.statement('saga claim', () => {
      const now = process.rt.clock.now();
      const recoverable = (row: Readonly<SagaRow>): boolean =>
        this.definitions.has(row.name) &&
        row.finishedAt === null &&
        (row.status !== 'WAITING' || (row.waitUntil !== null && row.waitUntil.getTime() <= now.getTime())) &&
        (row.leaseUntil === null || row.leaseUntil.getTime() < now.getTime());
      const candidates = ('id' in only ? [table.get(only.id)].filter((r) => r !== undefined).filter(recoverable) : table.select(recoverable))
        .sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime() || (a.id < b.id ? -1 : 1))
        .slice(0, 'id' in only ? 1 : only.limit);
      if (candidates.length > 0) process.rt.trace(`${this.owner} claims ${candidates.map((row) => row.id.slice(0, 8)).join(' ')}`);
      return candidates.map((row) => {
        const claimed: SagaRow = { ...row, leaseOwner: this.owner, leaseUntil: this.log.leaseEnd(now), attempts: row.attempts + 1, updatedAt: now };
        table.put(claimed);
        return claimed;
      });
    });
  }

  private track(sagaId: string, work: () => Promise<SagaOutcome>): Promise<SagaOutcome> {
    const inFlight = this.driving.get(sagaId);
    if (inFlight) return inFlight;
    const promise = work().finally(() => this.driving.delete(sagaId));
    this.driving.set(sagaId, promise);
    return promise;
  }

  private definitionOf(name: string): SagaDefinition<unknown> {
    const definition = this.definitions.get(name);
    if (!definition) throw new Error(`saga ${name} is not registered on ${this.owner}`);
    return definition;
  }
}
