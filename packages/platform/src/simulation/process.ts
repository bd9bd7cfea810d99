import type { SimRuntime } from './runtime.js';

/** A simulated database answer that is a transient fault, as PostgreSQL would give it (SQLSTATE in `code`). */
export class SimDatabaseFault extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SimDatabaseFault';
  }
}

/** How a process's database behaves: its latency, and how often a statement meets a fault. */
export interface SimDatabasePlan {
  minLatencyMs: number;
  maxLatencyMs: number;
  /** A statement refused before it ran (serialization failure): nothing applied. */
  faultRate: number;
  /** A statement that ran and committed, whose answer was lost (connection reset): applied, the caller sees a fault. */
  lostAckRate: number;
}

/**
 * A simulated OS process. Its code is ordinary promise code; everything that reaches it from
 * outside — a timer, a database answer, a network message — comes through `deliver`, which drops
 * what arrives after the process crashed (its volatile state is gone; its awaits never resume)
 * and holds what arrives while it is stopped (SIGSTOP) until it continues. Its durable state lives
 * outside it (the stores), so it survives; `restart` builds the volatile state afresh.
 */
export class SimProcess {
  private aliveNow = true;
  /** Bumped by every crash: deliveries meant for an earlier life are dropped. */
  private life = 0;
  private stoppedUntil = -1;
  crashes = 0;

  constructor(
    readonly name: string,
    readonly rt: SimRuntime,
    readonly db: SimDatabasePlan,
  ) {}

  get alive(): boolean {
    return this.aliveNow;
  }

  /** This life's number: part of the process's lease owner name, as a fresh process id would be. */
  get incarnation(): number {
    return this.life;
  }

  get stopped(): boolean {
    return this.rt.clock.elapsed() < this.stoppedUntil;
  }

  /** Runs `fn` in this process `delayMs` from now, unless it has crashed by then; later if it is stopped. */
  deliver(delayMs: number, fn: () => void): void {
    // Code of a crashed process that is still unwinding schedules nothing, not even into its next life.
    if (!this.aliveNow) return;
    const life = this.life;
    this.rt.clock.schedule(delayMs, () => this.arrive(life, fn));
  }

  /** What arrives now for life `life`: run, held while stopped, dropped after a crash. */
  private arrive(life: number, fn: () => void): void {
    if (!this.aliveNow || life !== this.life) return;
    const wait = this.stoppedUntil - this.rt.clock.elapsed();
    if (wait > 0) {
      this.rt.clock.schedule(wait, () => this.arrive(life, fn));
      return;
    }
    fn();
  }

  /** Resolves in this process after `ms` of virtual time (never, if it crashes first). */
  sleep = (ms: number): Promise<void> => new Promise((resolve) => this.deliver(ms, resolve));

  /** Calls `fn` every `ms` in this process until the returned stop is called or the process crashes. */
  every(ms: number, fn: () => void): { stop(): void } {
    let stopped = false;
    const tick = (): void => {
      if (stopped) return;
      fn();
      this.deliver(ms, tick);
    };
    this.deliver(ms, tick);
    return {
      stop: () => {
        stopped = true;
      },
    };
  }

  /**
   * One statement of this process's database: `apply` runs atomically at the moment the database
   * executes it (after a latency), whether or not the process is still there to hear the answer.
   * A fault may refuse it (nothing applied) or lose its acknowledgement (applied, fault answered).
   */
  statement<T>(label: string, apply: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.aliveNow) return;
      const life = this.life;
      const { random } = this.rt;
      const latency = random.int(this.db.minLatencyMs, this.db.maxLatencyMs);
      const refused = random.chance(this.db.faultRate);
      const lostAck = !refused && random.chance(this.db.lostAckRate);
      this.rt.clock.schedule(latency, () => {
        let outcome: { ok: true; value: T } | { ok: false; error: unknown };
        if (refused) {
          this.rt.fault('db-fault', `${this.name} ${label}`);
          outcome = { ok: false, error: new SimDatabaseFault('40001', `sim: ${label} refused (serialization failure)`) };
        } else {
          try {
            outcome = { ok: true, value: apply() };
          } catch (error) {
            outcome = { ok: false, error };
          }
          if (lostAck) {
            this.rt.fault('db-lost-ack', `${this.name} ${label}`);
            outcome = { ok: false, error: new SimDatabaseFault('08006', `sim: connection lost after ${label} committed`) };
          }
        }
        const answered = outcome;
        this.arrive(life, () => (answered.ok ? resolve(answered.value) : reject(answered.error)));
      });
    });
  }

  /** Kills the process: every await of its code is abandoned, its timers die with it. */
  crash(why: string): void {
    if (!this.aliveNow) return;
    this.aliveNow = false;
    this.life += 1;
    this.crashes += 1;
    this.stoppedUntil = -1;
    this.rt.fault('crash', `${this.name} (${why})`);
  }

  /** Starts the process again (after a crash); the caller builds its volatile state anew. */
  restart(): void {
    if (this.aliveNow) throw new Error(`${this.name} is running; only a crashed process restarts`);
    this.aliveNow = true;
    this.rt.trace(`${this.name} restarts`);
  }

  /** SIGSTOP for `ms`: nothing of it runs until then; what reaches it waits. */
  stop(ms: number): void {
    if (!this.aliveNow) return;
    this.stoppedUntil = Math.max(this.stoppedUntil, this.rt.clock.elapsed() + ms);
    this.rt.fault('stall', `${this.name} for ${ms}ms`);
  }
}
