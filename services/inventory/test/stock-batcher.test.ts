import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_BATCH_OPS, MAX_QUEUED_OPS, StockBatcher } from '../src/store/stock-batcher.js';
import type { StockAnswer, StockOp } from '../src/store/stock-batch.js';

/** The queue and flush loop alone, against fake batch and single paths (the SQL is tested on the databases). */

const now = new Date('2030-01-01T00:00:00Z');
const reserveOp = (id: string): StockOp => ({ kind: 'reserve', id, lines: [{ sku: 'S', quantity: 1 }], expiresAt: now, now });
const commitOp = (id: string): StockOp => ({ kind: 'commit', id, now });
/** An answer that says which path gave it. */
const answerFor = (op: StockOp, path: 'batch' | 'one'): StockAnswer =>
  op.kind === 'reserve'
    ? { kind: 'reserve', outcome: { kind: 'short', skus: [`${path}:${op.id}`] } }
    : { kind: 'commit', outcome: { moved: false, reservation: undefined } };

function gate(): { wait: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('StockBatcher', () => {
  it('runs a lone operation at once: no timer stands between it and its batch', async () => {
    vi.useFakeTimers(); // Timers never fire: an operation that waited for one would never answer.
    const batches: StockOp[][] = [];
    const batcher = new StockBatcher({ runBatch: async (ops) => (batches.push([...ops]), ops.map((op) => answerFor(op, 'batch'))), runOne: async () => expect.fail('no fallback') });
    const answer = await batcher.submit(reserveOp('r1'));
    expect(answer).toEqual(answerFor(reserveOp('r1'), 'batch'));
    expect(batches).toEqual([[reserveOp('r1')]]);
    expect(batcher.stats).toMatchObject({ batches: 1, batchedOps: 1, fallbacks: 0 });
  });

  it('queues what arrives while a batch is in flight, then takes it all, up to the batch size, in arrival order', async () => {
    const first = gate();
    const batches: string[][] = [];
    const batcher = new StockBatcher({
      runBatch: async (ops) => {
        batches.push(ops.map((op) => op.id));
        if (batches.length === 1) await first.wait;
        return ops.map((op) => answerFor(op, 'batch'));
      },
      runOne: async () => expect.fail('no fallback'),
    });
    const lone = batcher.submit(reserveOp('first'));
    await vi.waitUntil(() => batches.length === 1);
    const ids = Array.from({ length: MAX_BATCH_OPS + 10 }, (_, i) => `q${i}`);
    const queued = ids.map((id) => batcher.submit(id.endsWith('7') ? commitOp(id) : reserveOp(id)));
    // Nothing else starts while the first batch is in flight.
    await new Promise((r) => setTimeout(r, 20));
    expect(batches).toHaveLength(1);
    first.open();
    await Promise.all([lone, ...queued]);
    expect(batches).toEqual([['first'], ids.slice(0, MAX_BATCH_OPS), ids.slice(MAX_BATCH_OPS)]);
    expect(batcher.stats).toMatchObject({ batches: 3, batchedOps: ids.length + 1, largestBatch: MAX_BATCH_OPS });
  });

  it('puts each reservation id in a batch at most once; a later operation on it waits for the next batch', async () => {
    const batches: string[][] = [];
    const batcher = new StockBatcher({
      runBatch: async (ops) => (batches.push(ops.map((op) => `${op.kind}:${op.id}`)), ops.map((op) => answerFor(op, 'batch'))),
      runOne: async () => expect.fail('no fallback'),
    });
    // Ids compare without case: the database answers UUIDs lower-case.
    await Promise.all([batcher.submit(reserveOp('a')), batcher.submit(reserveOp('A')), batcher.submit(reserveOp('b')), batcher.submit(commitOp('a')), batcher.submit(commitOp('c'))]);
    expect(batches).toEqual([['reserve:a', 'reserve:b', 'commit:c'], ['reserve:A'], ['commit:a']]);
  });

  it('re-runs a failed batch one operation at a time: each gets its own answer or its own error', async () => {
    const batcher = new StockBatcher({
      runBatch: async () => {
        throw new Error('batch failed');
      },
      runOne: async (op) => {
        if (op.id === 'bad') throw new Error('bad alone');
        return answerFor(op, 'one');
      },
    });
    const outcomes = await Promise.allSettled(['x', 'bad', 'y'].map((id) => batcher.submit(reserveOp(id))));
    expect(outcomes).toEqual([
      { status: 'fulfilled', value: answerFor(reserveOp('x'), 'one') },
      { status: 'rejected', reason: new Error('bad alone') },
      { status: 'fulfilled', value: answerFor(reserveOp('y'), 'one') },
    ]);
    expect(batcher.stats).toMatchObject({ batches: 0, fallbacks: 1 });
    // The batcher keeps working after a failure.
    expect(await batcher.submit(reserveOp('z'))).toEqual(answerFor(reserveOp('z'), 'one'));
  });

  it('stops growing its queue at the limit: the overflow runs alone at once', async () => {
    const first = gate();
    let ones = 0;
    const batcher = new StockBatcher({
      runBatch: async (ops) => (await first.wait, ops.map((op) => answerFor(op, 'batch'))),
      runOne: async (op) => (ones++, answerFor(op, 'one')),
    });
    const queued = Array.from({ length: MAX_QUEUED_OPS }, (_, i) => batcher.submit(reserveOp(`q${i}`)));
    await new Promise((r) => setTimeout(r, 0)); // The first batch takes its operations off the queue.
    const refill = Array.from({ length: MAX_BATCH_OPS }, (_, i) => batcher.submit(reserveOp(`r${i}`)));
    expect(await batcher.submit(reserveOp('over'))).toEqual(answerFor(reserveOp('over'), 'one'));
    expect(ones).toBe(1);
    first.open();
    await Promise.all([...queued, ...refill]);
    expect(batcher.stats).toMatchObject({ overflowed: 1, batchedOps: MAX_QUEUED_OPS + MAX_BATCH_OPS, fallbacks: 0 });
  });

  it('refuses a batch size outside its limit', () => {
    const runs = { runBatch: async () => [], runOne: async (op: StockOp) => answerFor(op, 'one') };
    expect(() => new StockBatcher({ ...runs, maxBatchOps: 0 })).toThrow(RangeError);
    expect(() => new StockBatcher({ ...runs, maxBatchOps: MAX_BATCH_OPS + 1 })).toThrow(RangeError);
  });
});
