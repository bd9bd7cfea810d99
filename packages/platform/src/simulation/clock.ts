import type { Clock } from '@agora/kernel';

/** The instant virtual time starts at (any fixed instant does; this one reads well in traces). */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);

interface Timer {
  at: number;
  seq: number;
  fire: () => void;
}

/**
 * Virtual time: `now()` moves only when the runtime fires the next timer, and timers fire in
 * (time, scheduling order) order — never on the wall clock. Nothing waits for real.
 */
export class VirtualClock implements Clock {
  private nowMs = SIM_EPOCH_MS;
  private seq = 0;
  /** A binary min-heap on (at, seq). */
  private readonly heap: Timer[] = [];

  now(): Date {
    return new Date(this.nowMs);
  }

  /** Milliseconds since the run began. */
  elapsed(): number {
    return this.nowMs - SIM_EPOCH_MS;
  }

  /** Runs `fire` `delayMs` from now (>= 0). Returns a cancel function. */
  schedule(delayMs: number, fire: () => void): () => void {
    if (!(delayMs >= 0) || !Number.isFinite(delayMs)) throw new Error(`a timer delay is finite and >= 0, got ${delayMs}`);
    let cancelled = false;
    this.push({ at: this.nowMs + Math.round(delayMs), seq: this.seq++, fire: () => (cancelled ? undefined : fire()) });
    return () => {
      cancelled = true;
    };
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Advances time to the earliest timer and fires it; false when none is left. */
  fireNext(): boolean {
    const timer = this.pop();
    if (!timer) return false;
    if (timer.at < this.nowMs) throw new Error('simulation invariant violated: a timer fired in the past');
    this.nowMs = timer.at;
    timer.fire();
    return true;
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Timer, heap[parent] as Timer)) break;
      [heap[i], heap[parent]] = [heap[parent] as Timer, heap[i] as Timer];
      i = parent;
    }
  }

  private pop(): Timer | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && before(heap[left] as Timer, heap[smallest] as Timer)) smallest = left;
      if (right < heap.length && before(heap[right] as Timer, heap[smallest] as Timer)) smallest = right;
      if (smallest === i) break;
      [heap[i], heap[smallest]] = [heap[smallest] as Timer, heap[i] as Timer];
      i = smallest;
    }
    return top;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
