import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { ManualClock, newId } from '@agora/kernel';
import { PostgresStorage, SagaOrchestrator, classifyFault, defineSaga, type SagaStep, type Storage } from '../src/index.js';
import { postgresBackend } from '../src/testing/index.js';

/**
 * A transient fault is never a business outcome (docs/checkout.md): real PostgreSQL faults thrown
 * in a step — a lock timeout (55P03), a deadlock (40P01), a server out of connections for a role
 * (53300) — are retried within the step's deadline; past it the saga is parked, unfinished, and
 * recovery completes it. Nothing is compensated for them. An unclassified error still is.
 */

const MIGRATIONS = fileURLToPath(new URL('./fixtures/blocks-migrations', import.meta.url));
const SCHEMA = 'blocks';
const LEASE_MS = 5_000;
/** Short deadlines so a parked saga shows up within the test's time. */
const TRANSIENT = { deadlineMs: 200, baseDelayMs: 5, maxDelayMs: 20, parkMs: 1_000 } as const;
const NO_RETRY_DELAY = { attempts: 3, baseDelayMs: 0, maxDelayMs: 0 } as const;

interface Input {
  label: string;
}

describe.runIf(await postgresBackend.available())('saga on transient faults (real PostgreSQL)', () => {
  let storage: Storage;
  let url: string;
  let release: () => Promise<void>;

  beforeAll(async () => {
    const opened = await postgresBackend.open();
    storage = opened.storage;
    url = opened.url ?? '';
    release = opened.release;
    await storage.migrate(SCHEMA, MIGRATIONS);
    await storage.query(sql`create table blocks.hot (id int primary key, n int not null)`);
    await storage.query(sql`insert into blocks.hot values (1, 0), (2, 0)`);
  });
  afterAll(async () => release());

  const orchestrator = (clock: ManualClock, store: Storage = storage) =>
    new SagaOrchestrator({ storage: store, schema: SCHEMA, clock, owner: `test-${newId()}`, leaseMs: LEASE_MS, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });

  /** A real lock_not_available: the row is held by another transaction and our lock_timeout is tiny. */
  async function lockTimeout(): Promise<never> {
    let unlock!: () => void;
    let locked!: () => void;
    const held = new Promise<void>((resolve) => (locked = resolve));
    const holder = storage.transaction(async (tx) => {
      await storage.query(sql`select n from blocks.hot where id = 1 for update`, tx);
      locked();
      await new Promise<void>((resolve) => (unlock = resolve));
    });
    await held;
    try {
      await storage.transaction(async (tx) => {
        await storage.query(sql`set local lock_timeout = '20ms'`, tx);
        await storage.query(sql`update blocks.hot set n = n + 1 where id = 1`, tx);
      });
    } finally {
      unlock();
      await holder;
    }
    throw new Error('expected a lock timeout');
  }

  /** A real deadlock: two transactions take rows 1 and 2 in opposite orders; PostgreSQL kills one. */
  async function deadlock(): Promise<never> {
    let bothHold!: () => void;
    let holding = 0;
    const barrier = new Promise<void>((resolve) => (bothHold = resolve));
    const side = (first: number, second: number) =>
      storage.transaction(async (tx) => {
        await storage.query(sql`set local deadlock_timeout = '50ms'`, tx);
        await storage.query(sql`update blocks.hot set n = n + 1 where id = ${first}`, tx);
        if (++holding === 2) bothHold();
        await barrier;
        await storage.query(sql`update blocks.hot set n = n + 1 where id = ${second}`, tx);
      });
    const results = await Promise.allSettled([side(1, 2), side(2, 1)]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) throw new Error('expected a deadlock');
    throw failed.reason;
  }

  function flaky(name: string, faults: (() => Promise<never>)[], runs: string[], compensations: string[]): SagaStep<Input> {
    return {
      name,
      log: 'replayed',
      retry: NO_RETRY_DELAY,
      transient: TRANSIENT,
      async run() {
        runs.push(name);
        const fault = faults.shift();
        if (fault) await fault();
        return { done: name };
      },
      async compensate() {
        compensations.push(name);
      },
    };
  }

  it('a real lock timeout and a real deadlock in a step are retried; the saga completes with nothing compensated', async () => {
    const runs: string[] = [];
    const compensations: string[] = [];
    const seen: string[] = [];
    const recordKind = (fault: () => Promise<never>) => async (): Promise<never> => {
      try {
        return await fault();
      } catch (err) {
        seen.push(`${(err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code}:${classifyFault(err)}`);
        throw err;
      }
    };
    const saga = defineSaga<Input>('flaky', [flaky('a', [], runs, compensations), flaky('b', [recordKind(lockTimeout), recordKind(deadlock)], runs, compensations)]);
    const outcome = await orchestrator(new ManualClock()).register(saga).start(saga, newId(), { label: 'x' });
    expect(seen.map((s) => s.split(':')[1])).toEqual(['transient', 'transient']);
    expect(seen.map((s) => s.split(':')[0]).sort()).toEqual(['40P01', '55P03']);
    expect(outcome.status).toBe('COMPLETED');
    expect(runs).toEqual(['a', 'b', 'b', 'b']);
    expect(compensations).toEqual([]);
  });

  it('a role at its CONNECTION LIMIT (real 53300) past the deadline parks the saga; recovery completes it later', async () => {
    const role = `agora_limited_${newId().replaceAll('-', '').slice(0, 12)}`;
    await storage.query(sql.raw(`create role ${role} login connection limit 0`));
    const limitedUrl = new URL(url);
    limitedUrl.username = role;
    const limited = new PostgresStorage({ url: limitedUrl.toString(), poolMax: 1, connectionTimeoutMs: 1_000 });
    let useLimited = true;
    const runs: string[] = [];
    const compensations: string[] = [];
    const step: SagaStep<Input> = {
      name: 'write',
      log: 'replayed',
      retry: NO_RETRY_DELAY,
      transient: TRANSIENT,
      async run() {
        runs.push('write');
        await (useLimited ? limited : storage).query(sql`select 1 as one`);
        return { written: true };
      },
      async compensate() {
        compensations.push('write');
      },
    };
    const saga = defineSaga<Input>('limited', [step]);
    const clock = new ManualClock();
    const first = orchestrator(clock).register(saga);
    const sagaId = newId();
    try {
      const parked = await first.start(saga, sagaId, { label: 'x' });
      expect(parked.status).toBe('RUNNING');
      expect(parked.finished).toBe(false);
      expect(parked.failure).toBeUndefined();
      expect(runs.length).toBeGreaterThan(1);
      expect(compensations).toEqual([]);
      const [row] = await storage.query<{ lease_until: string; status: string }>(sql`select lease_until, status from blocks.sagas where id = ${sagaId}::uuid`);
      expect(row?.status).toBe('RUNNING');
      // Parked: the lease ends parkMs from the park, not a whole lease later.
      expect(row && new Date(row.lease_until).getTime() - clock.now().getTime()).toBeLessThanOrEqual(TRANSIENT.parkMs);

      // Before the park ends nobody takes it; after, another instance's recovery completes it.
      useLimited = false;
      const other = orchestrator(clock).register(saga);
      expect(await other.recover()).toEqual([]);
      clock.advance(TRANSIENT.parkMs + 1);
      const recovered = await other.recover();
      expect(recovered.map((o) => o.status)).toEqual(['COMPLETED']);
      expect(compensations).toEqual([]);
    } finally {
      await limited.close();
      await storage.query(sql.raw(`drop role if exists ${role}`));
    }
  });

  it('a compensation that meets transient faults past its deadline parks (COMPENSATING), never FAILED; recovery finishes it', async () => {
    let failing = true;
    const compensations: string[] = [];
    const unavailable = Object.assign(new Error('sorry, too many clients already'), { code: '53300' });
    const held: SagaStep<Input> = {
      name: 'held',
      log: 'replayed',
      retry: NO_RETRY_DELAY,
      compensateRetry: NO_RETRY_DELAY,
      transient: TRANSIENT,
      run: async () => ({ held: true }),
      async compensate() {
        compensations.push('held');
        if (failing) throw unavailable;
      },
    };
    const refuse: SagaStep<Input> = { name: 'refuse', log: 'replayed', run: (ctx) => ctx.abort('OUT_OF_STOCK') };
    const saga = defineSaga<Input>('undo', [held, refuse]);
    const clock = new ManualClock();
    const sagaId = newId();
    const parked = await orchestrator(clock).register(saga).start(saga, sagaId, { label: 'x' });
    expect(parked.status).toBe('COMPENSATING');
    expect(parked.compensationError).toBeUndefined();
    expect(compensations.length).toBeGreaterThan(NO_RETRY_DELAY.attempts);
    failing = false;
    clock.advance(TRANSIENT.parkMs + 1);
    const [recovered] = await orchestrator(clock).register(saga).recover();
    expect(recovered?.status).toBe('COMPENSATED');
    expect(recovered?.failure).toMatchObject({ kind: 'aborted', reason: 'OUT_OF_STOCK' });
  });

  it('a bracketed step parked after more transient retries than its attempts still has its attempts when recovery resumes it', async () => {
    let failing = true;
    const runs: string[] = [];
    const compensations: string[] = [];
    const unavailable = Object.assign(new Error('the database system is starting up'), { code: '57P03' });
    const logged: SagaStep<Input> = {
      name: 'logged',
      log: 'bracketed',
      retry: NO_RETRY_DELAY,
      transient: TRANSIENT,
      async run() {
        runs.push('logged');
        if (failing) throw unavailable;
        return { logged: true };
      },
      async compensate() {
        compensations.push('logged');
      },
    };
    const saga = defineSaga<Input>('bracketedTransient', [logged]);
    const clock = new ManualClock();
    const parked = await orchestrator(clock).register(saga).start(saga, newId(), { label: 'x' });
    expect(parked.status).toBe('RUNNING');
    expect(runs.length).toBeGreaterThan(NO_RETRY_DELAY.attempts);
    failing = false;
    clock.advance(TRANSIENT.parkMs + 1);
    const [recovered] = await orchestrator(clock).register(saga).recover();
    expect(recovered?.status).toBe('COMPLETED');
    expect(compensations).toEqual([]);
  });

  it('an unclassified error is still bounded: compensated after its attempts', async () => {
    const compensations: string[] = [];
    const broken = flaky('broken', [], [], compensations);
    const saga = defineSaga<Input>('bug', [{ ...broken, run: () => Promise.reject(new TypeError('a bug')) }]);
    const outcome = await orchestrator(new ManualClock()).register(saga).start(saga, newId(), { label: 'x' });
    expect(outcome.status).toBe('COMPENSATED');
    expect(outcome.failure).toMatchObject({ kind: 'error', step: 'broken' });
  });
});
