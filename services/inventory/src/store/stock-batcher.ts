import { idKey, type StockAnswer, type StockOp } from './stock-batch.js';

/**
 * Operations per batch transaction. Large enough that 50 concurrent checkouts on one SKU share a
 * few commits; small enough that one batch stays a short transaction holding its row locks briefly.
 */
export const MAX_BATCH_OPS = 64;
/**
 * Reservation lines per batch. A statement binds about 7 parameters per line (line insert and
 * stock delta); 2,048 lines keeps every batch statement far under PostgreSQL's 65,535 parameters.
 * A single operation (at most RESERVATION_LINES_MAX lines) always fits.
 */
export const MAX_BATCH_LINES = 2_048;
/**
 * Operations waiting for a batch. Past this the queue stops growing and a new operation runs on
 * the single-operation path at once (today's behaviour without batching), so memory stays bounded.
 */
export const MAX_QUEUED_OPS = 4_096;

export type BatchOutcome = 'committed' | 'fell_back';

export interface StockBatcherOptions {
  /** Runs a whole batch in one transaction; answers index-aligned with the ops. */
  runBatch: (ops: readonly StockOp[]) => Promise<StockAnswer[]>;
  /** The single-operation path: one transaction per operation (the fallback). */
  runOne: (op: StockOp) => Promise<StockAnswer>;
  maxBatchOps?: number;
  /** Called once per batch, after its operations are answered, with its size and how it ended (a metric). */
  onBatch?: (size: number, outcome: BatchOutcome) => void;
}

export interface BatcherStats {
  /** Batch transactions that committed. */
  batches: number;
  /** Operations answered by those batches. */
  batchedOps: number;
  /** Batches that failed and were re-run one operation at a time. */
  fallbacks: number;
  /** Operations run alone because the queue was full. */
  overflowed: number;
  largestBatch: number;
}

interface Pending {
  op: StockOp;
  resolve: (answer: StockAnswer) => void;
  reject: (err: unknown) => void;
}

const linesOf = (op: StockOp): number => (op.kind === 'reserve' ? op.lines.length : 1);

/**
 * Coalesces concurrent reserves and commits into one transaction per batch, so a hot SKU's row
 * is locked and made durable once per batch instead of once per checkout.
 *
 * At most one batch is in flight. An operation arriving while one is in flight waits in FIFO
 * order; when it commits, the next batch takes everything queued (up to the limits above). With
 * nothing in flight an operation starts a batch at once: no timer, no added latency when idle.
 * A batch holds each reservation id at most once; a later operation on the same id waits for the
 * next batch, so it sees the earlier one's committed result, as it would without batching.
 *
 * One queue for reserves and commits alike: a commit names only its reservation id, so which
 * SKUs it touches is known only inside the batch; one queue lets a batch fold every reserve and
 * commit of a hot SKU into one row lock, one net delta and one durable commit.
 *
 * A batch that fails for any reason (a business refusal is an answer, not a failure) is re-run
 * one operation at a time on the single path, in arrival order: one bad operation fails alone.
 */
export class StockBatcher {
  private readonly queue: Pending[] = [];
  private draining = false;
  private readonly maxBatchOps: number;
  private readonly counters: BatcherStats = { batches: 0, batchedOps: 0, fallbacks: 0, overflowed: 0, largestBatch: 0 };

  constructor(private readonly options: StockBatcherOptions) {
    this.maxBatchOps = options.maxBatchOps ?? MAX_BATCH_OPS;
    if (!Number.isSafeInteger(this.maxBatchOps) || this.maxBatchOps < 1 || this.maxBatchOps > MAX_BATCH_OPS) {
      throw new RangeError(`maxBatchOps must be an integer in 1..${MAX_BATCH_OPS}, got ${this.maxBatchOps}`);
    }
  }

  get stats(): Readonly<BatcherStats> {
    return { ...this.counters };
  }

  submit(op: StockOp): Promise<StockAnswer> {
    if (this.queue.length >= MAX_QUEUED_OPS) {
      this.counters.overflowed++;
      return this.options.runOne(op);
    }
    return new Promise<StockAnswer>((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (this.draining) return;
      this.draining = true;
      // A microtask, not a timer: operations submitted in the same tick join the first batch.
      queueMicrotask(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.flush(this.take());
    } finally {
      this.draining = false;
    }
  }

  /** The next batch: queued operations in FIFO order, distinct ids, within the limits. */
  private take(): Pending[] {
    const batch: Pending[] = [];
    const ids = new Set<string>();
    let lines = 0;
    for (let i = 0; i < this.queue.length && batch.length < this.maxBatchOps; ) {
      const pending = this.queue[i];
      if (!pending) throw new Error(`invariant broken: queue slot ${i} is empty`);
      const key = idKey(pending.op.id);
      const fits = batch.length === 0 || lines + linesOf(pending.op) <= MAX_BATCH_LINES;
      if (ids.has(key) || !fits) {
        i++;
        continue;
      }
      ids.add(key);
      lines += linesOf(pending.op);
      batch.push(pending);
      this.queue.splice(i, 1);
    }
    if (batch.length === 0) throw new Error('invariant broken: a non-empty queue gave an empty batch');
    return batch;
  }

  /** Never throws: every operation of the batch is settled, by the batch or by its own fallback. */
  private async flush(batch: readonly Pending[]): Promise<void> {
    const ops = batch.map((p) => p.op);
    let answers: StockAnswer[];
    try {
      answers = await this.options.runBatch(ops);
      if (answers.length !== ops.length) throw new Error(`invariant broken: a batch of ${ops.length} gave ${answers.length} answers`);
    } catch {
      // The batch rolled back as a whole: nothing it did is visible. Each operation now runs alone,
      // and its own error (if any) goes to its own caller.
      this.counters.fallbacks++;
      for (const pending of batch) {
        try {
          pending.resolve(await this.options.runOne(pending.op));
        } catch (err) {
          pending.reject(err);
        }
      }
      this.options.onBatch?.(batch.length, 'fell_back');
      return;
    }
    this.counters.batches++;
    this.counters.batchedOps += batch.length;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
    batch.forEach((pending, i) => {
      const answer = answers[i];
      if (!answer || answer.kind !== pending.op.kind) pending.reject(new Error(`invariant broken: batch answer ${i} does not match its ${pending.op.kind}`));
      else pending.resolve(answer);
    });
    this.options.onBatch?.(batch.length, 'committed');
  }
}
