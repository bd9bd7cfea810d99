import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_DEFAULTS, LockLostError, LockUnavailableError, type HeldLock, type LockManager } from '../../src/index.js';
import { lockAdapters, sleep, type OpenedLocks } from './support.js';

/** Short enough that expiry tests take a fraction of a second. */
const SHORT_LEASE_MS = 200;
/** Long enough that nothing expires during a test that does not wait for it. */
const LONG_LEASE_MS = 20_000;
/** How late a timer or a round trip may be on a loaded two-core machine without the test failing. */
const SLACK_MS = 1_000;
/** Leases that are renewed: long enough that a renewal slowed by load still lands within the term. */
const RENEWED_LEASE_MS = 500;
/** An upper bound for waits whose point is not their length (the lower bound is what is checked). */
const GENEROUS_WAIT_MS = 10_000;
/** Sections of the mutual exclusion test: clients × rounds. */
const CLIENTS = 5;
const ROUNDS = 6;

const elapsedSince = (start: number) => performance.now() - start;

/** The lock port's contract: every adapter passes the same suite, with real clients on real servers. */
for (const adapter of lockAdapters) {
  describe.runIf(await adapter.available())(`lock contract on ${adapter.name}`, () => {
    let opened: OpenedLocks;
    let a: LockManager;
    let b: LockManager;

    beforeEach(async () => {
      opened = await adapter.open();
      a = await opened.client();
      b = await opened.client();
    });
    afterEach(async () => {
      await opened.release();
    });

    it('acquires a free lock: a positive token, held for about leaseMs, and a second holder is refused', async () => {
      const lock = await a.acquire('shard-move', { leaseMs: LONG_LEASE_MS });
      expect(lock.name).toBe('shard-move');
      expect(lock.token).toBeGreaterThan(0n);
      expect(lock.isHeld()).toBe(true);
      expect(lock.signal.aborted).toBe(false);
      expect(lock.remainingMs()).toBeLessThanOrEqual(LONG_LEASE_MS);
      expect(lock.remainingMs()).toBeGreaterThan(LONG_LEASE_MS - SLACK_MS);
      expect(await b.tryAcquire('shard-move', { leaseMs: LONG_LEASE_MS })).toBeUndefined();
      const refused = await b.acquire('shard-move', { leaseMs: LONG_LEASE_MS }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(LockUnavailableError);
      expect(refused).toMatchObject({ code: 'LOCK_UNAVAILABLE', lockName: 'shard-move', attempts: 1 });
      // Another name is another lock.
      expect(await b.tryAcquire('flash-sale:reconcile', { leaseMs: LONG_LEASE_MS })).toBeDefined();
    });

    it('exactly one of many clients racing for a free lock wins', async () => {
      const clients = [a, b, ...(await Promise.all(Array.from({ length: 6 }, () => opened.client())))];
      let answered = 0;
      let issuedBeforeFirstAnswer = 0;
      const results = await Promise.all(
        clients.map((client) => {
          if (answered === 0) issuedBeforeFirstAnswer++;
          return client.tryAcquire('race', { leaseMs: LONG_LEASE_MS }).finally(() => answered++);
        }),
      );
      expect(issuedBeforeFirstAnswer).toBe(clients.length);
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    });

    it('mutual exclusion: concurrent clients never overlap, and tokens grow in the order the sections ran', async () => {
      const clients = [a, b, ...(await Promise.all(Array.from({ length: CLIENTS - 2 }, () => opened.client())))];
      let inside = 0;
      let overlaps = 0;
      let waiting = 0;
      let sectionsWithWaiters = 0;
      const tokens: bigint[] = [];
      await Promise.all(
        clients.map(async (client) => {
          for (let round = 0; round < ROUNDS; round++) {
            waiting++;
            const lock = await client.acquire('critical', { leaseMs: LONG_LEASE_MS, waitMs: 30_000 });
            waiting--;
            if (inside > 0) overlaps++;
            inside++;
            if (waiting > 0) sectionsWithWaiters++;
            tokens.push(lock.token);
            await sleep(Math.random() * 3);
            inside--;
            expect(await lock.release()).toBe(true);
          }
        }),
      );
      expect(overlaps).toBe(0);
      expect(tokens).toHaveLength(CLIENTS * ROUNDS);
      // The race happened: others were waiting while sections ran.
      expect(sectionsWithWaiters).toBeGreaterThan(ROUNDS);
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
    });

    it('tokens strictly increase across holders, clients and releases', async () => {
      const seen: bigint[] = [];
      for (const client of [a, b, a, a, b]) {
        const lock = await client.acquire('sequence', { leaseMs: LONG_LEASE_MS });
        seen.push(lock.token);
        await lock.release();
      }
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
    });

    it('extend keeps the lease past its first term; nobody else gets it meanwhile', async () => {
      const lock = await a.acquire('kept', { leaseMs: RENEWED_LEASE_MS });
      const start = performance.now();
      while (elapsedSince(start) < RENEWED_LEASE_MS * 3) {
        await sleep(RENEWED_LEASE_MS / 5);
        await lock.extend();
        expect(await b.tryAcquire('kept', { leaseMs: LONG_LEASE_MS })).toBeUndefined();
      }
      expect(lock.isHeld()).toBe(true);
      await lock.extend(LONG_LEASE_MS);
      expect(lock.leaseMs).toBe(LONG_LEASE_MS);
      expect(lock.remainingMs()).toBeGreaterThan(LONG_LEASE_MS - SLACK_MS);
      expect(await lock.release()).toBe(true);
      expect(await b.tryAcquire('kept', { leaseMs: LONG_LEASE_MS })).toBeDefined();
    });

    it('a lease not extended expires: the next holder gets a higher token and the old one learns it lost', async () => {
      const first = await a.acquire('expiring', { leaseMs: SHORT_LEASE_MS });
      const start = performance.now();
      const second = await b.acquire('expiring', { leaseMs: LONG_LEASE_MS, waitMs: GENEROUS_WAIT_MS });
      // Not before the store's lease ran out (a little early only by timer granularity).
      expect(elapsedSince(start)).toBeGreaterThan(SHORT_LEASE_MS - 20);
      expect(second.token).toBeGreaterThan(first.token);
      expect(first.isHeld()).toBe(false);
      expect(first.remainingMs()).toBe(0);
      expect(first.signal.aborted).toBe(true);
      expect(first.signal.reason).toBeInstanceOf(LockLostError);
      expect(first.signal.reason).toMatchObject({ code: 'LOCK_LOST', reason: 'expired', token: first.token });
      await expect(first.extend()).rejects.toBeInstanceOf(LockLostError);
      // Release only by the holder: the old holder's release leaves the new holder's lease alone.
      expect(await first.release()).toBe(false);
      expect(await first.release()).toBe(false);
      expect(second.isHeld()).toBe(true);
      await second.extend();
      expect(await a.tryAcquire('expiring', { leaseMs: LONG_LEASE_MS })).toBeUndefined();
      expect(await second.release()).toBe(true);
      const third = await a.acquire('expiring', { leaseMs: LONG_LEASE_MS });
      expect(third.token).toBeGreaterThan(second.token);
    });

    it('a release ends the lease at once, aborts the signal, and a second release changes nothing', async () => {
      const lock = await a.acquire('released', { leaseMs: LONG_LEASE_MS });
      expect(await lock.release()).toBe(true);
      expect(lock.signal.reason).toMatchObject({ reason: 'released' });
      const next = await b.acquire('released', { leaseMs: LONG_LEASE_MS });
      await lock.release();
      expect(next.isHeld()).toBe(true);
      expect(await a.tryAcquire('released', { leaseMs: LONG_LEASE_MS })).toBeUndefined();
      await expect(lock.extend()).rejects.toMatchObject({ reason: 'released' });
    });

    it('waitMs is honoured: the wait ends after waitMs while the holder keeps the lock', async () => {
      const WAIT_MS = 300;
      await a.acquire('busy', { leaseMs: LONG_LEASE_MS });
      const start = performance.now();
      const refused = await b.acquire('busy', { leaseMs: LONG_LEASE_MS, waitMs: WAIT_MS }).catch((err: unknown) => err);
      const waited = elapsedSince(start);
      expect(refused).toBeInstanceOf(LockUnavailableError);
      expect(refused).toMatchObject({ waitMs: WAIT_MS });
      expect((refused as LockUnavailableError).attempts).toBeGreaterThan(2);
      expect(waited).toBeGreaterThanOrEqual(WAIT_MS - 1);
      expect(waited).toBeLessThan(WAIT_MS + SLACK_MS);
    });

    it('a waiter gets the lock soon after it is released, well inside its waitMs', async () => {
      const RELEASE_AFTER_MS = 150;
      const held = await a.acquire('handover', { leaseMs: LONG_LEASE_MS });
      const start = performance.now();
      const waiter = b.acquire('handover', { leaseMs: LONG_LEASE_MS, waitMs: LONG_LEASE_MS });
      await sleep(RELEASE_AFTER_MS);
      await held.release();
      const lock = await waiter;
      expect(lock.token).toBeGreaterThan(held.token);
      expect(elapsedSince(start)).toBeLessThan(RELEASE_AFTER_MS + LOCK_DEFAULTS.retryMaxMs + SLACK_MS);
    });

    it('an aborted signal ends the wait with its reason', async () => {
      await a.acquire('shutdown', { leaseMs: LONG_LEASE_MS });
      const controller = new AbortController();
      const stop = new Error('shutting down');
      const waiter = b.acquire('shutdown', { leaseMs: LONG_LEASE_MS, waitMs: LONG_LEASE_MS, signal: controller.signal });
      await sleep(50);
      controller.abort(stop);
      await expect(waiter).rejects.toBe(stop);
    });

    it('withLock renews the lease while work outlasts it, then releases, also when work throws', async () => {
      const result = await a.withLock('long-move', { leaseMs: RENEWED_LEASE_MS }, async (lock: HeldLock) => {
        await sleep(RENEWED_LEASE_MS * 3);
        expect(lock.isHeld()).toBe(true);
        expect(await b.tryAcquire('long-move', { leaseMs: LONG_LEASE_MS })).toBeUndefined();
        return lock.token;
      });
      const next = await b.acquire('long-move', { leaseMs: LONG_LEASE_MS });
      expect(next.token).toBeGreaterThan(result);
      await next.release();
      const failure = new Error('move failed');
      await expect(a.withLock('long-move', { leaseMs: LONG_LEASE_MS }, async () => Promise.reject(failure))).rejects.toBe(failure);
      expect(await b.tryAcquire('long-move', { leaseMs: LONG_LEASE_MS })).toBeDefined();
    });

    it('close releases the locks the manager holds', async () => {
      const lock = await a.acquire('closing', { leaseMs: LONG_LEASE_MS });
      await a.close();
      expect(lock.signal.reason).toMatchObject({ reason: 'closed' });
      expect(await b.tryAcquire('closing', { leaseMs: LONG_LEASE_MS })).toBeDefined();
      await expect(a.acquire('closing', { leaseMs: LONG_LEASE_MS })).rejects.toThrow(/closed/);
    });

    it('refuses bad arguments before any I/O, naming the field and its limit', async () => {
      const cases: [string, () => Promise<unknown>, RegExp][] = [
        ['empty name', () => a.acquire('', { leaseMs: 1_000 }), /lock name must be 1\.\.200 \(LOCK_LIMITS\.nameLengthMax\)/],
        ['long name', () => a.acquire('x'.repeat(201), { leaseMs: 1_000 }), /LOCK_LIMITS\.nameLengthMax/],
        ['hash-tag brace', () => a.acquire('a{b}', { leaseMs: 1_000 }), /letters, digits or _ : \. \/ -/],
        ['lease too short', () => a.acquire('x', { leaseMs: 49 }), /leaseMs must be an integer in 50\.\.600000 \(LOCK_LIMITS\.leaseMsMin\.\.leaseMsMax\), got 49/],
        ['lease too long', () => a.acquire('x', { leaseMs: 600_001 }), /leaseMs .* got 600001/],
        ['fractional lease', () => a.acquire('x', { leaseMs: 100.5 }), /leaseMs .* got 100\.5/],
        ['NaN lease', () => a.acquire('x', { leaseMs: Number.NaN }), /leaseMs .* got NaN/],
        ['negative wait', () => a.acquire('x', { leaseMs: 1_000, waitMs: -1 }), /waitMs must be an integer in 0\.\.600000 \(0\.\.LOCK_LIMITS\.waitMsMax\), got -1/],
        ['wait too long', () => a.acquire('x', { leaseMs: 1_000, waitMs: 600_001 }), /waitMs .* got 600001/],
        ['tryAcquire lease', () => a.tryAcquire('x', { leaseMs: 0 }), /leaseMs .* got 0/],
        ['renewal too slow', () => a.withLock('x', { leaseMs: 1_000, renewEveryMs: 501 }, async () => 1), /renewEveryMs must be an integer in 1\.\.500 \(at most half of leaseMs\), got 501/],
      ];
      for (const [what, call, message] of cases) {
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, what).toBeInstanceOf(RangeError);
        expect((err as Error).message, what).toMatch(message);
      }
      // Nothing was taken by the refused calls.
      expect(await b.tryAcquire('x', { leaseMs: 1_000 })).toBeDefined();
      const held = await a.acquire('y', { leaseMs: 1_000 });
      await expect(held.extend(10)).rejects.toThrow(/leaseMs .* got 10/);
      expect(held.isHeld()).toBe(true);
    });
  });
}
