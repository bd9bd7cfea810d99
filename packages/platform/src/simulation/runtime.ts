import { VirtualClock } from './clock.js';
import { SimRandom } from './random.js';

/** How one run may end before it settles: a bound in virtual time and in events, so a livelock is a finding, not a hang. */
export const SIM_LIMITS = {
  /** Virtual time a run may take, in ms. */
  horizonMs: 30 * 60 * 1000,
  /** Timers a run may fire. */
  maxEvents: 200_000,
} as const;

/** The kinds of fault a run can inject, counted per run. */
export const SIM_FAULT_KINDS = ['drop-request', 'drop-response', 'duplicate', 'db-fault', 'db-lost-ack', 'crash', 'stall'] as const;
export type SimFaultKind = (typeof SIM_FAULT_KINDS)[number];

export type SimEndReason = 'settled' | 'horizon' | 'events' | 'idle';

/**
 * One deterministic run: its random source, its virtual clock, its trace and its fault counts,
 * and the event loop that drives it. Real promise code runs between timers: after each timer the
 * loop lets every microtask settle (nothing in a run does real I/O), then fires the next timer.
 * Same seed, same program: same order of everything.
 */
export class SimRuntime {
  readonly random: SimRandom;
  readonly clock = new VirtualClock();
  readonly faults: Record<SimFaultKind, number> = Object.fromEntries(SIM_FAULT_KINDS.map((k) => [k, 0])) as Record<SimFaultKind, number>;
  private readonly lines: string[] | undefined;
  /** FNV-1a over every trace line, kept even when the lines are not. */
  private hash = 0x811c9dc5;
  private traceCount = 0;
  events = 0;

  constructor(
    readonly seed: number,
    options: { keepTrace?: boolean } = {},
  ) {
    this.random = new SimRandom(seed);
    this.lines = options.keepTrace ? [] : undefined;
  }

  /** Appends a line to the trace: `t=<virtual ms> <what>`. */
  trace(what: string): void {
    const line = `t=${this.clock.elapsed()} ${what}`;
    this.lines?.push(line);
    this.traceCount += 1;
    for (let i = 0; i < line.length; i++) {
      this.hash ^= line.charCodeAt(i);
      this.hash = Math.imul(this.hash, 0x01000193);
    }
    this.hash = Math.imul(this.hash ^ 10, 0x01000193);
  }

  fault(kind: SimFaultKind, what: string): void {
    this.faults[kind] += 1;
    this.trace(`FAULT ${kind} ${what}`);
  }

  /** The trace's lines (only with `keepTrace`). */
  get traceLines(): readonly string[] {
    if (!this.lines) throw new Error('this run keeps no trace lines (keepTrace: false)');
    return this.lines;
  }

  /** A digest of the whole trace (kept with or without its lines). */
  get traceDigest(): string {
    return `${(this.hash >>> 0).toString(16).padStart(8, '0')}:${this.traceCount}`;
  }

  /**
   * Fires timers in virtual-time order until `settled()` holds (checked between timers), no timer
   * is left, or a limit is reached.
   */
  async run(settled: () => boolean, limits: { horizonMs: number; maxEvents: number } = SIM_LIMITS): Promise<SimEndReason> {
    for (;;) {
      await drainMicrotasks();
      if (settled()) return 'settled';
      if (this.clock.elapsed() > limits.horizonMs) return 'horizon';
      if (this.events >= limits.maxEvents) return 'events';
      if (!this.clock.fireNext()) return 'idle';
      this.events += 1;
    }
  }
}

/** Resolves after every queued microtask (and those they queue) has run: setImmediate comes after them all. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
