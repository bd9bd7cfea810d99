import type { FaultKind } from './schedule.js';

/**
 * What a chaos run saw: every request with its answer, every fault with its times. The checker
 * holds the databases against it (an order a client was told about must exist), and a failing
 * run's report shows what happened around the violation.
 */

export const HISTORY_LIMITS = {
  /** Requests recorded at most: a bound on memory for a long soak (later ones are counted only). */
  maxRecordedRequests: 200_000,
} as const;

export type Operation = 'browse' | 'add-to-cart' | 'checkout' | 'cancel' | 'flash-purchase' | 'flash-ticket' | 'pay' | 'register';

export interface RequestRecord {
  op: Operation;
  /** Milliseconds from the start of the load. */
  atMs: number;
  ms: number;
  /** The HTTP status, or 0 when no answer came (refused, reset, timed out). */
  status: number;
  /** The order the answer named (checkout, cancel, pay) or the ticket (flash purchase). */
  orderId?: string;
  /** The order's status in the answer. */
  orderStatus?: string;
  /** The problem code of a 4xx/5xx answer. */
  code?: string;
}

export interface FaultRecord {
  kind: FaultKind;
  target: string;
  atMs: number;
  endedAtMs: number;
  detail: string;
  /** The fault could not be applied as scheduled (e.g. its member was down already); why. */
  skipped?: string;
}

export class History {
  readonly requests: RequestRecord[] = [];
  readonly faults: FaultRecord[] = [];
  private dropped = 0;
  private readonly startedAt = Date.now();

  sinceStartMs(): number {
    return Date.now() - this.startedAt;
  }

  request(record: RequestRecord): void {
    if (this.requests.length >= HISTORY_LIMITS.maxRecordedRequests) this.dropped++;
    else this.requests.push(record);
  }

  fault(record: FaultRecord): void {
    this.faults.push(record);
  }

  get requestCount(): number {
    return this.requests.length + this.dropped;
  }

  /** Requests per operation and outcome class (2xx, 4xx, 5xx, none). */
  summary(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const r of this.requests) {
      const klass = r.status === 0 ? 'none' : `${Math.floor(r.status / 100)}xx`;
      const op = (out[r.op] ??= {});
      op[klass] = (op[klass] ?? 0) + 1;
    }
    return out;
  }

  /** Faults applied per kind (skipped ones not counted). */
  faultCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const f of this.faults) if (!f.skipped) out[f.kind] = (out[f.kind] ?? 0) + 1;
    return out;
  }
}
