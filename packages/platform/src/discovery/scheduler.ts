import { ManualClock } from '@agora/kernel';

/**
 * Timers come through a scheduler for the same reason time comes through a Clock: heartbeats,
 * re-lists and failure detection are all "every N ms" rules, and a test that proves them by
 * sleeping is slow and flaky. Production uses {@link systemScheduler}; tests use
 * {@link ManualScheduler} and move time forward by hand.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Scheduler {
  /** Runs `task` once after `delayMs`. A task must handle its own errors. */
  setTimeout(task: () => void, delayMs: number): TimerHandle;
  /** Runs `task` every `periodMs` until cancelled. */
  setInterval(task: () => void, periodMs: number): TimerHandle;
}

/**
 * Node's timers, unref'd: a heartbeat or a re-list must never be the only thing keeping a process
 * alive (a CLI command or a test that forgot `close()` still exits).
 */
export const systemScheduler: Scheduler = {
  setTimeout(task, delayMs) {
    const timer = setTimeout(task, delayMs);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
  setInterval(task, periodMs) {
    const timer = setInterval(task, periodMs);
    timer.unref();
    return { cancel: () => clearInterval(timer) };
  },
};

interface ManualTimer {
  readonly id: number;
  due: number;
  readonly periodMs: number | undefined;
  readonly task: () => void;
  cancelled: boolean;
}

/**
 * A scheduler driven by a {@link ManualClock}: nothing runs until `advance` moves time forward,
 * and then every timer that falls due runs in time order, with the clock set to its due time, as
 * it would have in real life — only instantly.
 */
export class ManualScheduler implements Scheduler {
  readonly clock: ManualClock;
  private timers: ManualTimer[] = [];
  private nextId = 1;

  constructor(clock: ManualClock = new ManualClock()) {
    this.clock = clock;
  }

  setTimeout(task: () => void, delayMs: number): TimerHandle {
    return this.schedule(task, delayMs, undefined);
  }

  setInterval(task: () => void, periodMs: number): TimerHandle {
    if (!(periodMs > 0)) throw new RangeError(`periodMs must be positive, got ${periodMs}`);
    return this.schedule(task, periodMs, periodMs);
  }

  /** Timers not yet fired or cancelled. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order. After each one it lets pending promise
   * callbacks run (one macrotask turn), so async work a timer starts — an in-memory re-list, a
   * heartbeat write — has finished before the next timer fires or `advance` returns.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`ms must be >= 0, got ${ms}`);
    const target = this.clock.now().getTime() + ms;
    await settle();
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.clock.set(new Date(next.due));
      if (next.periodMs === undefined) next.cancelled = true;
      else next.due += next.periodMs;
      next.task();
      await settle();
    }
    this.timers = this.timers.filter((t) => !t.cancelled);
    this.clock.set(new Date(target));
  }

  /** Lets already-started async work finish without moving time. */
  flush(): Promise<void> {
    return settle();
  }

  private schedule(task: () => void, delayMs: number, periodMs: number | undefined): TimerHandle {
    const timer: ManualTimer = { id: this.nextId++, due: this.clock.now().getTime() + Math.max(0, delayMs), periodMs, task, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /** The earliest live timer due at or before `target`; equal due times fire in creation order. */
  private nextDue(target: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.timers) {
      if (timer.cancelled || timer.due > target) continue;
      if (!best || timer.due < best.due || (timer.due === best.due && timer.id < best.id)) best = timer;
    }
    return best;
  }
}

/** One macrotask turn: every promise callback queued so far (and the ones they queue) runs first. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
