import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import { AppError, ManualClock, newId } from '@agora/kernel';
import { IdempotencyStore, hashRequest, type IdempotentResponse, type Storage } from '../src/index.js';
import { testBackends } from '../src/testing/index.js';

const MIGRATIONS = fileURLToPath(new URL('./fixtures/blocks-migrations', import.meta.url));
const SCHEMA = 'blocks';

describe('hashRequest', () => {
  it('ignores key order at every depth but not array order or values', () => {
    const a = { payment: { method: 'card', token: 'tok_visa' }, lines: [1, 2], note: undefined };
    const b = { lines: [1, 2], payment: { token: 'tok_visa', method: 'card' } };
    expect(hashRequest(a)).toBe(hashRequest(b));
    expect(hashRequest(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRequest({ lines: [2, 1] })).not.toBe(hashRequest({ lines: [1, 2] }));
    expect(hashRequest({ n: 1 })).not.toBe(hashRequest({ n: '1' }));
    expect(hashRequest(undefined)).toBe(hashRequest(null));
    expect(hashRequest(JSON.parse('{"__proto__": {"a": 1}}'))).not.toBe(hashRequest(JSON.parse('{"__proto__": {"a": 2}}')));
  });

  it('property: equal for any reordering of an object', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse());
        expect(hashRequest(reversed)).toBe(hashRequest(object));
      }),
    );
  });
});

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`idempotency store on ${backend.kind}`, () => {
    let storage: Storage;
    let release: () => Promise<void>;

    beforeAll(async () => {
      const opened = await backend.open();
      storage = opened.storage;
      release = opened.release;
      await storage.migrate(SCHEMA, MIGRATIONS);
    });
    afterAll(async () => release());

    const store = (options: { clock?: ManualClock; waitMs?: number } = {}): IdempotencyStore =>
      new IdempotencyStore({ storage, schema: SCHEMA, clock: options.clock ?? new ManualClock(), pollMs: 2, maxPollMs: 20, ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }) });

    /** A handler that counts its executions. */
    const counting = (response: IdempotentResponse) => {
      const handler = { calls: 0, run: async () => {
        handler.calls += 1;
        return response;
      } };
      return handler;
    };

    it('a replay gets the first response without executing again', async () => {
      const keys = store();
      const body = { payment: { token: 'tok_visa' } };
      const handler = counting({ status: 201, body: { id: 'o-1', status: 'CONFIRMED', lines: [{ sku: 'A', quantity: 2 }] } });
      const first = await keys.run('user-1:POST /checkout', 'key-1', hashRequest(body), handler.run);
      const again = await keys.run('user-1:POST /checkout', 'key-1', hashRequest({ ...body }), handler.run);
      expect(first).toEqual({ status: 201, body: { id: 'o-1', status: 'CONFIRMED', lines: [{ sku: 'A', quantity: 2 }] }, replayed: false });
      expect(again).toEqual({ ...first, replayed: true });
      expect(handler.calls).toBe(1);
    });

    it('the same key with another body is 422 IDEMPOTENCY_MISMATCH', async () => {
      const keys = store();
      const handler = counting({ status: 201, body: { ok: true } });
      await keys.run('user-1:POST /checkout', 'key-2', hashRequest({ token: 'tok_visa' }), handler.run);
      const mismatch = await keys.run('user-1:POST /checkout', 'key-2', hashRequest({ token: 'tok_declined' }), handler.run).catch((e: unknown) => e);
      expect(mismatch).toBeInstanceOf(AppError);
      expect(mismatch).toMatchObject({ code: 'IDEMPOTENCY_MISMATCH', status: 422 });
      expect(handler.calls).toBe(1);
    });

    it('keys are scoped: the same key in another scope is another request', async () => {
      const keys = store();
      const handler = counting({ status: 201, body: { ok: true } });
      const hash = hashRequest({});
      await keys.run('user-1:POST /checkout', 'shared', hash, handler.run);
      expect((await keys.run('user-2:POST /checkout', 'shared', hash, handler.run)).replayed).toBe(false);
      expect((await keys.run('user-1:POST /flash', 'shared', hash, handler.run)).replayed).toBe(false);
      expect(handler.calls).toBe(3);
    });

    it('a 4xx AppError is the answer: stored, and replayed as the same error', async () => {
      const keys = store();
      let calls = 0;
      const reject = async (): Promise<IdempotentResponse> => {
        calls += 1;
        throw new AppError('OUT_OF_STOCK', 'SKU A is out of stock', { extras: { order: { id: 'o-2', status: 'REJECTED' } } });
      };
      const hash = hashRequest({ sku: 'A' });
      const first = await keys.run('u:checkout', 'k-4xx', hash, reject).catch((e: unknown) => e);
      const replay = await keys.run('u:checkout', 'k-4xx', hash, reject).catch((e: unknown) => e);
      expect(calls).toBe(1);
      for (const err of [first, replay]) {
        expect(err).toBeInstanceOf(AppError);
        expect(err).toMatchObject({ code: 'OUT_OF_STOCK', status: 409, message: 'SKU A is out of stock', extras: { order: { id: 'o-2', status: 'REJECTED' } } });
      }
    });

    it('a technical failure releases the key so a retry runs again', async () => {
      const keys = store();
      const hash = hashRequest({});
      await expect(keys.run('u', 'k-5xx', hash, async () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
      await expect(keys.run('u', 'k-5xx', hash, async () => Promise.reject(new AppError('UNAVAILABLE', 'inventory down')))).rejects.toThrow('inventory down');
      expect(await keys.run('u', 'k-5xx', hash, async () => ({ status: 503, body: { retry: true } }))).toMatchObject({ status: 503, replayed: false });
      const handler = counting({ status: 201, body: { ok: 1 } });
      expect(await keys.run('u', 'k-5xx', hash, handler.run)).toMatchObject({ status: 201, replayed: false });
      expect(await keys.run('u', 'k-5xx', hash, handler.run)).toMatchObject({ status: 201, replayed: true });
      expect(handler.calls).toBe(1);
    });

    it('refuses an empty or over-long key with VALIDATION_FAILED', async () => {
      const keys = store();
      for (const key of ['', 'k'.repeat(256)]) {
        await expect(keys.run('u', key, hashRequest({}), async () => ({ status: 200, body: null }))).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      }
    });

    it('20 concurrent requests with one key execute once and all get the same answer', async () => {
      const keys = store();
      let calls = 0;
      const hash = hashRequest({ cart: 'c-1' });
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          keys.run('user-9:POST /checkout', 'burst', hash, async () => {
            calls += 1;
            await delay(30);
            return { status: 201, body: { orderId: 'o-9' } };
          }),
        ),
      );
      expect(calls).toBe(1);
      expect(results.every((r) => r.status === 201 && (r.body as { orderId: string }).orderId === 'o-9')).toBe(true);
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    });

    it('a duplicate waits a bounded time, then answers 409 CONFLICT while the first still runs', async () => {
      const keys = store({ waitMs: 20 });
      let finish: () => void = () => undefined;
      let started: () => void = () => undefined;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      const hash = hashRequest({});
      const first = keys.run('u', 'slow', hash, () => new Promise<IdempotentResponse>((resolve) => {
        finish = () => resolve({ status: 200, body: { done: true } });
        started();
      }));
      await running; // the first request holds the key
      await expect(keys.run('u', 'slow', hash, async () => ({ status: 200, body: { second: true } }))).rejects.toMatchObject({ code: 'CONFLICT', status: 409 });
      finish();
      expect(await first).toEqual({ status: 200, body: { done: true }, replayed: false });
      expect(await keys.run('u', 'slow', hash, async () => ({ status: 200, body: { second: true } }))).toEqual({ status: 200, body: { done: true }, replayed: true });
    });

    it('a key left IN_PROGRESS past the lock timeout (its request died) is taken over', async () => {
      const clock = new ManualClock();
      const keys = store({ clock, waitMs: 0 });
      const hash = hashRequest({ pay: 1 });
      let finishAbandoned: () => void = () => undefined;
      let started: () => void = () => undefined;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      const abandoned = keys.run('u', 'stale', hash, () => new Promise<IdempotentResponse>((resolve) => {
        finishAbandoned = () => resolve({ status: 201, body: { by: 'abandoned' } });
        started();
      }));
      await running;
      await expect(keys.run('u', 'stale', hash, async () => ({ status: 201, body: { by: 'early' } }))).rejects.toMatchObject({ code: 'CONFLICT' });
      clock.advance(60_000);
      const takeover = await keys.run('u', 'stale', hash, async () => ({ status: 201, body: { by: 'takeover' } }));
      expect(takeover).toEqual({ status: 201, body: { by: 'takeover' }, replayed: false });
      // The presumed-dead request finishes after all: its answer is not the one kept.
      finishAbandoned();
      expect((await abandoned).body).toEqual({ by: 'abandoned' });
      expect(await keys.run('u', 'stale', hash, async () => ({ status: 201, body: { by: 'late' } }))).toEqual({ ...takeover, replayed: true });
    });

    it('prune deletes keys older than the cutoff and keeps newer ones', async () => {
      const clock = new ManualClock();
      const keys = store({ clock });
      const scope = `prune-${newId()}`;
      const ok = async (): Promise<IdempotentResponse> => ({ status: 200, body: null });
      await keys.run(scope, 'old', hashRequest(1), ok);
      clock.advance(25 * 60 * 60 * 1000);
      await keys.run(scope, 'new', hashRequest(2), ok);
      expect(await keys.pruneExpired()).toBeGreaterThanOrEqual(1);
      const scoped = async () => (await storage.query<{ key: string }>(sql`select key from blocks.idempotency_keys where scope = ${scope}`)).map((r) => r.key);
      expect(await scoped()).toEqual(['new']);
      expect(await keys.prune(new Date(clock.now().getTime() + 1))).toBeGreaterThanOrEqual(1);
      expect(await scoped()).toEqual([]);
      // A pruned key is a new request again.
      expect((await keys.run(scope, 'old', hashRequest('other body'), ok)).replayed).toBe(false);
    });
  });
}
