import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sql, type SQL } from 'drizzle-orm';
import { ManualClock, newId } from '@agora/kernel';
import {
  SagaOrchestrator,
  defineSaga,
  type Executor,
  type SagaDefinition,
  type SagaLogEntry,
  type SagaOutcome,
  type SagaStep,
  type StepLogging,
  type StepPhase,
  type Storage,
  type Tx,
} from '../src/index.js';
import { testBackends } from '../src/testing/index.js';

const MIGRATIONS = fileURLToPath(new URL('./fixtures/blocks-migrations', import.meta.url));
const SCHEMA = 'blocks';
const LEASE_MS = 1_000;

/** Thrown where the test kills the "process": the orchestrator must not write anything after it. */
class CrashForTest extends Error {
  constructor() {
    super('simulated process death');
    this.name = 'CrashForTest';
  }
}

/** The storage of a process that can die: after crash(), every query and transaction fails. */
class CrashableStorage implements Storage {
  private dead = false;
  constructor(private readonly inner: Storage) {}
  get kind() {
    return this.inner.kind;
  }
  get db() {
    return this.inner.db;
  }
  crash(): void {
    this.dead = true;
  }
  migrate(service: string, folder: string): Promise<void> {
    return this.inner.migrate(service, folder);
  }
  async query<Row>(statement: SQL, executor?: Executor): Promise<Row[]> {
    if (this.dead) throw new CrashForTest();
    return this.inner.query<Row>(statement, executor);
  }
  async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.dead) throw new CrashForTest();
    return this.inner.transaction(work);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

interface Input {
  label: string;
}

type Point = 'afterStarted' | 'afterEffect' | 'afterDone';

/** What the test wants to go wrong, and what the steps did. */
interface Script {
  abortAt?: string;
  /** Steps whose run lands its effect and then throws (a lost response), `times` times (Infinity: always). */
  errors?: Record<string, number>;
  /** Steps whose compensation throws, `times` times. */
  compensateErrors?: Record<string, number>;
  crash?: { step: string; phase: StepPhase; point: Point; storage: CrashableStorage; fired?: boolean };
  runs: Map<string, number>;
  compensations: string[];
}

const newScript = (extra: Partial<Script> = {}): Script => ({ runs: new Map(), compensations: [], ...extra });

function crashHere(script: Script, step: string, phase: StepPhase, point: Point): void {
  const crash = script.crash;
  if (!crash || crash.fired || crash.step !== step || crash.phase !== phase || crash.point !== point) return;
  crash.fired = true;
  crash.storage.crash();
  throw new CrashForTest();
}

/** The observer that kills the process right after the log write named in the script. */
function crashObserver(script: Script): (entry: SagaLogEntry) => void {
  return (entry) => {
    if (!entry.step) return;
    if (entry.step.status === 'STARTED') crashHere(script, entry.step.name, entry.step.phase, 'afterStarted');
    if (entry.step.status === 'DONE') crashHere(script, entry.step.name, entry.step.phase, 'afterDone');
  };
}

/**
 * A step whose side effect is a row in blocks.effects keyed by the idempotency key (insert if
 * absent), and whose compensation marks it undone: applied at most once however often it runs.
 */
function effectStep(storage: Storage, name: string, script: Script, log: StepLogging = 'bracketed'): SagaStep<Input> {
  return {
    name,
    log,
    retry: { attempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
    compensateRetry: { attempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
    async run(ctx) {
      script.runs.set(name, (script.runs.get(name) ?? 0) + 1);
      if (script.abortAt === name) ctx.abort('OUT_OF_STOCK', { step: name });
      const effect = { step: name, label: ctx.input.label, earlier: Object.keys(ctx.results) };
      if (log === 'fused') {
        // A fused step's effect is a part of the checkpoint's one statement: it commits with the log or not at all.
        crashHere(script, name, 'run', 'afterEffect');
        const errorsLeft = script.errors?.[name] ?? 0;
        if (errorsLeft > 0) {
          script.errors = { ...script.errors, [name]: errorsLeft - 1 };
          throw new Error(`${name}: provider timed out`);
        }
        return ctx.fuse(effect, {
          parts: (fenced) =>
            sql`fused_effect as (insert into blocks.effects (key, saga_id, step) select ${ctx.idempotencyKey}, ${ctx.sagaId}::uuid, ${name} where ${fenced} on conflict (key) do nothing)`,
        });
      }
      // A local step writes its effect in the checkpoint's transaction: it commits with the log or not at all.
      await storage.query(
        sql`insert into blocks.effects (key, saga_id, step) values (${ctx.idempotencyKey}, ${ctx.sagaId}::uuid, ${name})
            on conflict (key) do nothing`,
        log === 'local' ? ctx.tx : undefined,
      );
      if (log === 'local') expect(ctx.tx).toBeDefined();
      crashHere(script, name, 'run', 'afterEffect');
      const errorsLeft = script.errors?.[name] ?? 0;
      if (errorsLeft > 0) {
        script.errors = { ...script.errors, [name]: errorsLeft - 1 };
        throw new Error(`${name}: provider timed out`);
      }
      return effect;
    },
    async compensate(ctx) {
      script.compensations.push(name);
      const errorsLeft = script.compensateErrors?.[name] ?? 0;
      if (errorsLeft > 0) {
        script.compensateErrors = { ...script.compensateErrors, [name]: errorsLeft - 1 };
        throw new Error(`${name}: cannot undo yet`);
      }
      await storage.query(sql`update blocks.effects set undone = true where key = ${ctx.idempotencyKey}`);
      crashHere(script, name, 'compensate', 'afterEffect');
    },
  };
}

function threeSteps(storage: Storage, script: Script, name = 'three'): SagaDefinition<Input> {
  return defineSaga<Input>(name, ['a', 'b', 'c'].map((s) => effectStep(storage, s, script)));
}

async function effectsOf(storage: Storage, sagaId: string): Promise<{ step: string; undone: boolean }[]> {
  return storage.query(sql`select step, undone from blocks.effects where saga_id = ${sagaId}::uuid order by step`);
}

async function sagaRow(storage: Storage, sagaId: string): Promise<{ status: string; current_step: number; lease_owner: string | null; finished_at: Date | null }> {
  const [row] = await storage.query<{ status: string; current_step: number; lease_owner: string | null; finished_at: Date | null }>(
    sql`select status, current_step, lease_owner, finished_at from blocks.sagas where id = ${sagaId}::uuid`,
  );
  if (!row) throw new Error(`no saga ${sagaId}`);
  return row;
}

const noSleep = async (): Promise<void> => undefined;

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`saga orchestrator on ${backend.kind}`, () => {
    let storage: Storage;
    let release: () => Promise<void>;

    beforeAll(async () => {
      const opened = await backend.open();
      storage = opened.storage;
      release = opened.release;
      await storage.migrate(SCHEMA, MIGRATIONS);
      await storage.query(sql`create table blocks.effects (
        key text primary key, saga_id uuid not null, step text not null, undone boolean not null default false)`);
    });
    afterAll(async () => release());

    const orchestrator = (options: { clock?: ManualClock; owner?: string; store?: Storage; onLog?: (e: SagaLogEntry) => void } = {}): SagaOrchestrator =>
      new SagaOrchestrator({
        storage: options.store ?? storage,
        schema: SCHEMA,
        clock: options.clock ?? new ManualClock(),
        owner: options.owner ?? `test-${newId()}`,
        leaseMs: LEASE_MS,
        sleep: noSleep,
        ...(options.onLog ? { onLog: options.onLog } : {}),
      });

    it('runs a 3-step saga to COMPLETED and logs every step', async () => {
      const script = newScript();
      const saga = threeSteps(storage, script);
      const orch = orchestrator().register(saga);
      const id = newId();
      const outcome = await orch.start(saga, id, { label: 'x' });
      expect(outcome.status).toBe('COMPLETED');
      expect(outcome.finished).toBe(true);
      expect(outcome.results).toEqual({
        a: { step: 'a', label: 'x', earlier: [] },
        b: { step: 'b', label: 'x', earlier: ['a'] },
        c: { step: 'c', label: 'x', earlier: ['a', 'b'] },
      });
      const log = await orch.log(id);
      expect(log.map((r) => [r.step, r.phase, r.status, r.attempts])).toEqual([
        ['a', 'run', 'DONE', 1],
        ['b', 'run', 'DONE', 1],
        ['c', 'run', 'DONE', 1],
      ]);
      expect(log[1]?.result).toEqual(outcome.results.b);
      expect(await sagaRow(storage, id)).toMatchObject({ status: 'COMPLETED', current_step: 3, lease_owner: null });
      expect(await effectsOf(storage, id)).toEqual(['a', 'b', 'c'].map((step) => ({ step, undone: false })));
    });

    it('starting the same id again returns its outcome and runs nothing twice', async () => {
      const script = newScript();
      const saga = threeSteps(storage, script);
      const orch = orchestrator().register(saga);
      const id = newId();
      const [first, second] = await Promise.all([orch.start(saga, id, { label: 'x' }), orch.start(saga, id, { label: 'x' })]);
      const third = await orchestrator().register(saga).start(saga, id, { label: 'x' });
      expect([first.status, second.status, third.status]).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
      expect([...script.runs.values()]).toEqual([1, 1, 1]);
    });

    it('a business abort at step 3 compensates steps 2 and 1, in reverse', async () => {
      const script = newScript({ abortAt: 'c' });
      const saga = threeSteps(storage, script);
      const orch = orchestrator().register(saga);
      const id = newId();
      const outcome = await orch.start(saga, id, { label: 'x' });
      expect(outcome.status).toBe('COMPENSATED');
      expect(outcome.failure).toEqual({ kind: 'aborted', step: 'c', reason: 'OUT_OF_STOCK', data: { step: 'c' } });
      expect(script.compensations).toEqual(['b', 'a']);
      expect(script.runs.get('c')).toBe(1);
      const log = await orch.log(id);
      expect(log.map((r) => [r.step, r.phase, r.status])).toEqual([
        ['a', 'run', 'DONE'],
        ['b', 'run', 'DONE'],
        ['c', 'run', 'FAILED'],
        ['b', 'compensate', 'DONE'],
        ['a', 'compensate', 'DONE'],
      ]);
      expect(log[2]?.error).toBe('aborted: OUT_OF_STOCK');
      expect(await effectsOf(storage, id)).toEqual([
        { step: 'a', undone: true },
        { step: 'b', undone: true },
      ]);
    });

    it('a technical error is retried, and a step that keeps failing is compensated with the ones before it', async () => {
      const flaky = newScript({ errors: { b: 2 } });
      const flakySaga = threeSteps(storage, flaky, 'flaky');
      const orch = orchestrator().register(flakySaga);
      const recovered = await orch.start(flakySaga, newId(), { label: 'x' });
      expect(recovered.status).toBe('COMPLETED');
      expect(flaky.runs.get('b')).toBe(3);
      expect((await orch.log(recovered.sagaId)).find((r) => r.step === 'b')?.attempts).toBe(3);

      const broken = newScript({ errors: { b: Infinity } });
      const brokenSaga = threeSteps(storage, broken, 'broken');
      orch.register(brokenSaga);
      const id = newId();
      const failed = await orch.start(brokenSaga, id, { label: 'x' });
      expect(failed.status).toBe('COMPENSATED');
      expect(failed.failure).toMatchObject({ kind: 'error', step: 'b' });
      expect(broken.runs.get('b')).toBe(3);
      expect(broken.runs.has('c')).toBe(false);
      // The failed call may have landed (it did here), so b is compensated too.
      expect(broken.compensations).toEqual(['b', 'a']);
      expect(await effectsOf(storage, id)).toEqual([
        { step: 'a', undone: true },
        { step: 'b', undone: true },
      ]);
    });

    it('a compensation that keeps failing leaves the saga FAILED for an operator', async () => {
      const script = newScript({ abortAt: 'c', compensateErrors: { a: Infinity } });
      const saga = threeSteps(storage, script, 'stuck');
      const outcome = await orchestrator().register(saga).start(saga, newId(), { label: 'x' });
      expect(outcome.status).toBe('FAILED');
      expect(outcome.compensationError).toMatchObject({ step: 'a' });
      expect(outcome.failure).toMatchObject({ kind: 'aborted', reason: 'OUT_OF_STOCK' });
      expect(script.compensations).toEqual(['b', 'a', 'a', 'a']);
    });

    it('begun inside a caller transaction it commits or rolls back with it; until its lease runs out only its handle drives it', async () => {
      const script = newScript();
      const saga = threeSteps(storage, script, 'in-tx');
      const orch = orchestrator().register(saga);
      const rolledBack = newId();
      await expect(
        storage.transaction(async (tx) => {
          await orch.begin(saga, rolledBack, { label: 'x' }, tx);
          throw new Error('caller failed');
        }),
      ).rejects.toThrow('caller failed');
      expect(await orch.outcome(rolledBack)).toBeUndefined();

      const id = newId();
      const handle = await storage.transaction((tx) => orch.begin(saga, id, { label: 'x' }, tx));
      expect((await orch.outcome(id))?.status).toBe('RUNNING');
      expect(script.runs.size).toBe(0);
      // Born leased to this instance: drive(id) may not claim it before the lease runs out; the handle drives it.
      expect((await orch.drive(id)).status).toBe('RUNNING');
      expect(script.runs.size).toBe(0);
      const again = await storage.transaction((tx) => orch.begin(saga, id, { label: 'x' }, tx));
      expect(again.created).toBe(false);
      expect((await handle.drive()).status).toBe('COMPLETED');
      expect([...script.runs.values()]).toEqual([1, 1, 1]);
    });

    describe('crash at every point, then recovery by another instance', () => {
      const points: Point[] = ['afterStarted', 'afterEffect', 'afterDone'];
      const cases: { phase: StepPhase; step: string; point: Point }[] = [
        ...['a', 'b', 'c'].flatMap((step) => points.map((point) => ({ phase: 'run' as const, step, point }))),
        ...['b', 'a'].flatMap((step) => points.map((point) => ({ phase: 'compensate' as const, step, point }))),
      ];
      for (const { phase, step, point } of cases) {
        it(`${phase} ${step} ${point}`, async () => {
          const clock = new ManualClock();
          const crashable = new CrashableStorage(storage);
          const script = newScript({ crash: { step, phase, point, storage: crashable }, ...(phase === 'compensate' ? { abortAt: 'c' } : {}) });
          const saga = threeSteps(storage, script, `crash-${phase}-${step}-${point}`);
          const dying = orchestrator({ clock, store: crashable, owner: 'dying', onLog: crashObserver(script) }).register(saga);
          const id = newId();
          await expect(dying.start(saga, id, { label: 'x' })).rejects.toBeInstanceOf(CrashForTest);
          expect(script.crash?.fired).toBe(true);
          expect(await sagaRow(storage, id)).toMatchObject({ status: phase === 'run' ? 'RUNNING' : 'COMPENSATING', lease_owner: 'dying' });

          const survivor = orchestrator({ clock, owner: 'survivor' }).register(saga);
          expect(await survivor.recover()).toEqual([]); // the dead instance's lease still runs
          clock.advance(LEASE_MS + 1);
          const [outcome, ...others] = await survivor.recover();
          expect(others).toEqual([]);
          expect(outcome?.sagaId).toBe(id);

          const effects = await effectsOf(storage, id);
          if (phase === 'run') {
            expect(outcome?.status).toBe('COMPLETED');
            expect(effects).toEqual(['a', 'b', 'c'].map((s) => ({ step: s, undone: false })));
          } else {
            expect(outcome?.status).toBe('COMPENSATED');
            expect(effects).toEqual([
              { step: 'a', undone: true },
              { step: 'b', undone: true },
            ]);
          }
          // A DONE step is never run again; the crashed one runs again only if its DONE was not logged.
          const reran = point === 'afterEffect' ? 2 : 1;
          const calls = phase === 'run' ? script.runs : new Map(['a', 'b'].map((s) => [s, script.compensations.filter((c) => c === s).length]));
          for (const s of phase === 'run' ? ['a', 'b', 'c'] : ['a', 'b']) expect(calls.get(s), s).toBe(s === step ? reran : 1);
          expect(await sagaRow(storage, id)).toMatchObject({ lease_owner: null });
          expect((await survivor.outcome(id))?.finished).toBe(true);
        });
      }
    });

    it('a live lease keeps a second instance off a saga', async () => {
      const clock = new ManualClock();
      let openGate: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        openGate = resolve;
      });
      let entered: () => void = () => undefined;
      const inStep = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const runs: string[] = [];
      const saga = defineSaga<Input>('gated', [
        { name: 'one', run: async () => runs.push('one') },
        {
          name: 'two',
          run: async () => {
            runs.push('two');
            entered();
            await gate;
            return null;
          },
        },
      ]);
      const first = orchestrator({ clock }).register(saga);
      const second = orchestrator({ clock }).register(saga);
      const id = newId();
      const running = first.start(saga, id, { label: 'x' });
      await inStep;
      expect((await second.start(saga, id, { label: 'x' })).status).toBe('RUNNING');
      expect((await second.drive(id)).status).toBe('RUNNING');
      expect(await second.recover()).toEqual([]);
      openGate();
      expect((await running).status).toBe('COMPLETED');
      expect(runs).toEqual(['one', 'two']);
    });

    it('a driver whose lease was taken over writes nothing more to the log (the fence)', async () => {
      let openGate: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        openGate = resolve;
      });
      let entered: () => void = () => undefined;
      const inStep = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const saga = defineSaga<Input>('fenced', [
        { name: 'one', run: async () => 'one' },
        {
          name: 'two',
          run: async () => {
            entered();
            await gate;
            return 'late';
          },
        },
      ]);
      const first = orchestrator().register(saga);
      const id = newId();
      const running = first.start(saga, id, { label: 'x' });
      await inStep;
      await storage.query(sql`update blocks.sagas set lease_owner = 'thief' where id = ${id}::uuid`);
      openGate();
      const outcome = await running;
      expect(outcome.status).toBe('RUNNING');
      expect(outcome.results).toEqual({ one: 'one' });
      expect(await sagaRow(storage, id)).toMatchObject({ status: 'RUNNING', current_step: 1, lease_owner: 'thief' });
      const log = await first.log(id);
      expect(log.map((r) => [r.step, r.status, r.result ?? null])).toEqual([
        ['one', 'DONE', 'one'],
        ['two', 'STARTED', null],
      ]);
    });

    it('two instances recovering at once never drive the same saga', async () => {
      const clock = new ManualClock();
      const runs: { sagaId: string; step: string; by: string }[] = [];
      const sagaFor = (by: string): SagaDefinition<Input> =>
        defineSaga<Input>(
          'contended',
          ['a', 'b', 'c'].map((name) => ({
            name,
            async run(ctx) {
              runs.push({ sagaId: ctx.sagaId, step: name, by });
              await delay(1);
              return null;
            },
          })),
        );
      const creatorSaga = sagaFor('creator');
      const creator = orchestrator({ clock }).register(creatorSaga);
      const ids = Array.from({ length: 24 }, () => newId());
      // Begun inside one transaction and not driven (their creator died): all 24 wait for a recoverer.
      await storage.transaction(async (tx) => {
        for (const id of ids) await creator.begin(creatorSaga, id, { label: id }, tx);
      });
      // Left to their creator for one lease (it drives them after its commit), then anyone's.
      const early = new SagaOrchestrator({ storage, schema: SCHEMA, clock, owner: 'early', leaseMs: LEASE_MS, sleep: noSleep }).register(sagaFor('early'));
      expect(await early.recover()).toEqual([]);
      clock.advance(LEASE_MS + 1);
      const left = new SagaOrchestrator({ storage, schema: SCHEMA, clock, owner: 'left', leaseMs: LEASE_MS, recoveryBatch: 3, sleep: noSleep }).register(sagaFor('left'));
      const right = new SagaOrchestrator({ storage, schema: SCHEMA, clock, owner: 'right', leaseMs: LEASE_MS, recoveryBatch: 3, sleep: noSleep }).register(sagaFor('right'));
      const [fromLeft, fromRight] = await Promise.all([left.recover(), right.recover()]);
      const driven = [...fromLeft, ...fromRight].map((o) => o.sagaId).sort();
      expect(driven).toEqual([...ids].sort());
      expect([...fromLeft, ...fromRight].every((o) => o.status === 'COMPLETED')).toBe(true);
      for (const id of ids) {
        const mine = runs.filter((r) => r.sagaId === id);
        expect(mine.map((r) => r.step)).toEqual(['a', 'b', 'c']);
        expect(new Set(mine.map((r) => r.by)).size).toBe(1);
      }
    });

    describe('waiting for a signal', () => {
      interface PayScript {
        calls: string[];
        waitData?: unknown;
        compensatedWith?: unknown;
        early?: SagaOrchestrator;
      }
      const paySaga = (script: PayScript, name: string, until?: () => Date): SagaDefinition<Input> =>
        defineSaga<Input>(name, [
          {
            name: 'reserve',
            run: async () => {
              script.calls.push('reserve');
              return { reserved: true };
            },
            compensate: async () => {
              script.calls.push('release');
            },
          },
          {
            name: 'pay',
            async run(ctx) {
              script.calls.push('authorize');
              if (script.early) await script.early.resume(ctx.sagaId, 'pay', { approved: true, early: true });
              return ctx.wait({ data: { intent: ctx.idempotencyKey }, ...(until ? { until: until() } : {}) });
            },
            async onSignal(ctx) {
              script.calls.push('signal');
              script.waitData = ctx.waitData;
              const signal = ctx.signal as { approved: boolean };
              if (!signal.approved) ctx.abort('PAYMENT_DECLINED', signal);
              return { paid: true, signal };
            },
            async compensate(ctx) {
              script.calls.push('void');
              script.compensatedWith = ctx.stepResult;
            },
          },
          {
            name: 'confirm',
            run: async () => {
              script.calls.push('confirm');
              return { confirmed: true };
            },
          },
        ]);

      it('pauses WAITING (recovery leaves it alone) until resume, then completes', async () => {
        const clock = new ManualClock();
        const script: PayScript = { calls: [] };
        const saga = paySaga(script, 'pay-ok');
        const orch = orchestrator({ clock }).register(saga);
        const id = newId();
        const waiting = await orch.start(saga, id, { label: 'x' });
        expect(waiting).toMatchObject({ status: 'WAITING', waitingFor: 'pay', finished: false });
        expect(await sagaRow(storage, id)).toMatchObject({ status: 'WAITING', lease_owner: null });
        clock.advance(10 * LEASE_MS);
        expect(await orchestrator({ clock }).register(saga).recover()).toEqual([]);

        const other = orchestrator({ clock }).register(saga);
        const done = await other.resume(id, 'pay', { approved: true });
        expect(done.status).toBe('COMPLETED');
        expect(done.results.pay).toEqual({ paid: true, signal: { approved: true } });
        expect(script.waitData).toEqual({ intent: `${id}:pay` });
        expect(script.calls).toEqual(['reserve', 'authorize', 'signal', 'confirm']);
        // A duplicate webhook changes nothing.
        expect((await other.resume(id, 'pay', { approved: false })).status).toBe('COMPLETED');
        expect(script.calls).toHaveLength(4);
      });

      it('a declining signal aborts and compensates the steps before the waiting one', async () => {
        const script: PayScript = { calls: [] };
        const saga = paySaga(script, 'pay-declined');
        const orch = orchestrator().register(saga);
        const id = newId();
        await orch.start(saga, id, { label: 'x' });
        const outcome = await orch.resume(id, 'pay', { approved: false });
        expect(outcome.status).toBe('COMPENSATED');
        expect(outcome.failure).toEqual({ kind: 'aborted', step: 'pay', reason: 'PAYMENT_DECLINED', data: { approved: false } });
        expect(script.calls).toEqual(['reserve', 'authorize', 'signal', 'release']);
      });

      it('a signal that arrives before the step has returned wait() is not lost', async () => {
        const script: PayScript = { calls: [] };
        const saga = paySaga(script, 'pay-early');
        const orch = orchestrator().register(saga);
        script.early = orch;
        const outcome = await orch.start(saga, newId(), { label: 'x' });
        expect(outcome.status).toBe('COMPLETED');
        expect(outcome.results.pay).toEqual({ paid: true, signal: { approved: true, early: true } });
        expect(script.calls).toEqual(['reserve', 'authorize', 'signal', 'confirm']);
      });

      it('past its deadline a waiting saga is compensated by recovery, the waiting step included', async () => {
        const clock = new ManualClock();
        const script: PayScript = { calls: [] };
        const saga = paySaga(script, 'pay-timeout', () => new Date(clock.now().getTime() + 5 * LEASE_MS));
        const orch = orchestrator({ clock }).register(saga);
        const id = newId();
        expect((await orch.start(saga, id, { label: 'x' })).waitUntil).toEqual(new Date(clock.now().getTime() + 5 * LEASE_MS));
        clock.advance(2 * LEASE_MS);
        expect(await orch.recover()).toEqual([]);
        clock.advance(3 * LEASE_MS);
        const [outcome] = await orchestrator({ clock }).register(saga).recover();
        expect(outcome).toMatchObject({ sagaId: id, status: 'COMPENSATED', failure: { kind: 'timeout', step: 'pay' } });
        expect(script.calls).toEqual(['reserve', 'authorize', 'void', 'release']);
        expect(script.compensatedWith).toEqual({ intent: `${id}:pay` });
        // The late webhook finds the saga over.
        expect((await orch.resume(id, 'pay', { approved: true })).status).toBe('COMPENSATED');
        expect(script.calls).toHaveLength(4);
      });
    });

    describe('lean log: replayed and local steps, sagas born leased', () => {
      const leanSaga = (storage_: Storage, script: Script, name: string): SagaDefinition<Input> =>
        defineSaga<Input>(name, [
          effectStep(storage_, 'a', script, 'replayed'),
          effectStep(storage_, 'b', script, 'replayed'),
          effectStep(storage_, 'c', script, 'local'),
        ]);

      it('begun in the caller transaction and driven after its commit: one durable write in all, by the local last step', async () => {
        const script = newScript();
        const entries: SagaLogEntry[] = [];
        const saga = leanSaga(storage, script, 'lean-happy');
        const orch = orchestrator({ onLog: (e) => entries.push(e) }).register(saga);
        const id = newId();
        const handle = await storage.transaction((tx) => orch.begin(saga, id, { label: 'x' }, tx));
        expect(handle.created).toBe(true);
        expect(await sagaRow(storage, id)).toMatchObject({ status: 'RUNNING', current_step: 0 });
        const outcome = await handle.drive();
        expect(outcome).toMatchObject({ status: 'COMPLETED', finished: true });
        expect(outcome.results).toEqual({
          a: { step: 'a', label: 'x', earlier: [] },
          b: { step: 'b', label: 'x', earlier: ['a'] },
          c: { step: 'c', label: 'x', earlier: ['a', 'b'] },
        });
        // The birth (observed when the drive starts), then only the local step's checkpoint, which completes, finishes and releases.
        expect(entries.filter((e) => e.durable).map((e) => [e.step?.name ?? null, e.status])).toEqual([
          [null, 'RUNNING'],
          ['c', 'COMPLETED'],
        ]);
        expect(entries.filter((e) => !e.durable).map((e) => `${e.step?.name}:${e.step?.status}`)).toEqual(['a:STARTED', 'a:DONE', 'b:STARTED', 'b:DONE', 'c:STARTED']);
        expect(await orch.log(id)).toEqual([]);
        expect(await sagaRow(storage, id)).toMatchObject({ status: 'COMPLETED', current_step: 3, lease_owner: null });
        expect((await sagaRow(storage, id)).finished_at).not.toBeNull();
      });

      it('a fused last step writes its effect, completes and finishes the saga in ONE statement; a failed precondition writes nothing and retries', async () => {
        const script = newScript();
        const entries: SagaLogEntry[] = [];
        let preconditionChecks = 0;
        const saga = defineSaga<Input>('lean-fused', [
          effectStep(storage, 'a', script, 'replayed'),
          {
            name: 'b',
            log: 'fused',
            retry: { attempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
            run: async (ctx) => {
              preconditionChecks += 1;
              // The first time the precondition is false (as if the row changed meanwhile): nothing may be written.
              const holds = preconditionChecks > 1;
              return ctx.fuse(
                { fused: true },
                {
                  precondition: holds ? sql`true` : sql`false`,
                  parts: (fenced) =>
                    sql`fused_b as (insert into blocks.effects (key, saga_id, step) select ${ctx.idempotencyKey}, ${ctx.sagaId}::uuid, 'b' where ${fenced})`,
                },
              );
            },
          },
        ]);
        const orch = orchestrator({ onLog: (e) => entries.push(e) }).register(saga);
        const id = newId();
        const outcome = await (await storage.transaction((tx) => orch.begin(saga, id, { label: 'x' }, tx))).drive();
        expect(outcome).toMatchObject({ status: 'COMPLETED', finished: true, results: { b: { fused: true } } });
        expect(preconditionChecks).toBe(2);
        expect(await effectsOf(storage, id)).toEqual([
          { step: 'a', undone: false },
          { step: 'b', undone: false },
        ]);
        expect(entries.filter((e) => e.durable).map((e) => [e.step?.name ?? null, e.status])).toEqual([
          [null, 'RUNNING'],
          ['b', 'COMPLETED'],
        ]);
        expect(entries.some((e) => e.step?.status === 'RETRYING' && e.step.name === 'b')).toBe(true);
      });

      it('a crash after a replayed effect, before any checkpoint, is replayed from the birth: effects once, replayed steps run twice', async () => {
        const clock = new ManualClock();
        const crashable = new CrashableStorage(storage);
        const script = newScript({ crash: { step: 'b', phase: 'run', point: 'afterDone', storage: crashable } });
        const saga = leanSaga(storage, script, 'lean-crash');
        const dying = orchestrator({ clock, store: crashable, owner: 'dying', onLog: crashObserver(script) }).register(saga);
        const id = newId();
        const handle = await storage.transaction((tx) => dying.begin(saga, id, { label: 'x' }, tx));
        await expect(handle.drive()).rejects.toBeInstanceOf(CrashForTest);
        expect(script.crash?.fired).toBe(true);
        // Nothing was written after the birth: the log still says step 0, leased to the dead instance.
        expect(await sagaRow(storage, id)).toMatchObject({ status: 'RUNNING', current_step: 0, lease_owner: 'dying' });
        const survivor = orchestrator({ clock, owner: 'survivor' }).register(saga);
        expect(await survivor.recover()).toEqual([]); // born leased: the lease holds until it runs out
        clock.advance(LEASE_MS + 1);
        const [outcome] = await survivor.recover();
        expect(outcome).toMatchObject({ sagaId: id, status: 'COMPLETED', finished: true });
        expect(await effectsOf(storage, id)).toEqual(['a', 'b', 'c'].map((step) => ({ step, undone: false })));
        expect([script.runs.get('a'), script.runs.get('b'), script.runs.get('c')]).toEqual([2, 2, 1]);
      });

      it('an abort after replayed steps checkpoints once (COMPENSATING) and compensates them without brackets', async () => {
        const script = newScript({ abortAt: 'c' });
        const entries: SagaLogEntry[] = [];
        const saga = defineSaga<Input>('lean-abort', [effectStep(storage, 'a', script, 'replayed'), effectStep(storage, 'b', script, 'replayed'), effectStep(storage, 'c', script, 'replayed')]);
        const orch = orchestrator({ onLog: (e) => entries.push(e) }).register(saga);
        const id = newId();
        const outcome = await (await storage.transaction((tx) => orch.begin(saga, id, { label: 'x' }, tx))).drive();
        expect(outcome).toMatchObject({ status: 'COMPENSATED', failure: { kind: 'aborted', step: 'c', reason: 'OUT_OF_STOCK' } });
        expect(script.compensations).toEqual(['b', 'a']);
        expect(await effectsOf(storage, id)).toEqual([
          { step: 'a', undone: true },
          { step: 'b', undone: true },
        ]);
        expect(entries.filter((e) => e.durable).map((e) => e.status)).toEqual(['RUNNING', 'COMPENSATING', 'COMPENSATED']);
      });
    });

    describe('onFinished', () => {
      it('runs once the saga is terminal, and recovery runs it if the process died first', async () => {
        const clock = new ManualClock();
        const crashable = new CrashableStorage(storage);
        const finished: { by: string; status: string }[] = [];
        const sagaFor = (by: string): SagaDefinition<Input> =>
          defineSaga<Input>('finishing', [{ name: 'only', run: async () => ({ ok: true }) }], {
            onFinished: async (ctx, outcome) => {
              expect(ctx.idempotencyKey).toBe(`${ctx.sagaId}:finished`);
              finished.push({ by, status: outcome.status });
            },
          });
        const dyingSaga = sagaFor('dying');
        const dying = orchestrator({
          clock,
          store: crashable,
          onLog: (entry) => {
            if (entry.status === 'COMPLETED' && !entry.step) {
              crashable.crash();
              throw new CrashForTest();
            }
          },
        }).register(dyingSaga);
        const id = newId();
        await expect(dying.start(dyingSaga, id, { label: 'x' })).rejects.toBeInstanceOf(CrashForTest);
        expect(finished).toEqual([]);
        expect(await sagaRow(storage, id)).toMatchObject({ status: 'COMPLETED', finished_at: null });
        clock.advance(LEASE_MS + 1);
        const survivor = orchestrator({ clock }).register(sagaFor('survivor'));
        const [outcome] = await survivor.recover();
        expect(outcome).toMatchObject({ status: 'COMPLETED', finished: true });
        expect(finished).toEqual([{ by: 'survivor', status: 'COMPLETED' }]);
        expect(await survivor.recover()).toEqual([]);
      });
    });

    it('property: any crash point, abort or persistent error, with any mix of step logging, ends COMPLETED or COMPENSATED with effects applied exactly once net', async () => {
      const stepNames = ['s0', 's1', 's2', 's3'];
      const scenario = fc.record({
        steps: fc.integer({ min: 1, max: 4 }),
        failure: fc.constantFrom<'none' | 'abort' | 'error'>('none', 'abort', 'error'),
        failAt: fc.nat(3),
        flaky: fc.array(fc.nat(3), { maxLength: 2 }),
        logging: fc.array(fc.constantFrom<StepLogging>('bracketed', 'replayed', 'local', 'fused'), { minLength: 4, maxLength: 4 }),
        crash: fc.option(fc.record({ phase: fc.constantFrom<StepPhase>('run', 'compensate'), at: fc.nat(3), point: fc.constantFrom<Point>('afterStarted', 'afterEffect', 'afterDone') }), { nil: undefined }),
      });
      let round = 0;
      await fc.assert(
        fc.asyncProperty(scenario, async ({ steps, failure, failAt, flaky, logging, crash }) => {
          round += 1;
          const names = stepNames.slice(0, steps);
          const failing = names[Math.min(failAt, steps - 1)] ?? 's0';
          const clock = new ManualClock();
          const crashable = new CrashableStorage(storage);
          const errors: Record<string, number> = {};
          for (const index of flaky) if (index < steps) errors[names[index] ?? 's0'] = 1; // one transient error: retried away
          if (failure === 'error') errors[failing] = Infinity;
          const script = newScript({
            errors,
            ...(failure === 'abort' ? { abortAt: failing } : {}),
            ...(crash ? { crash: { step: names[Math.min(crash.at, steps - 1)] ?? 's0', phase: crash.phase, point: crash.point, storage: crashable } } : {}),
          });
          const saga = defineSaga<Input>(`prop-${round}`, names.map((n, i) => effectStep(storage, n, script, logging[i])));
          const id = newId();
          const first = orchestrator({ clock, store: crashable, onLog: crashObserver(script) }).register(saga);
          let outcome: SagaOutcome | undefined = await first.start(saga, id, { label: 'p' }).catch((err: unknown) => {
            if (!(err instanceof CrashForTest)) throw err;
            return undefined;
          });
          if (outcome === undefined) {
            clock.advance(LEASE_MS + 1);
            const survivor = orchestrator({ clock }).register(saga);
            // A crash right after a local last step's commit finds the saga already finished: nothing to recover.
            [outcome] = await survivor.recover();
            outcome ??= await survivor.outcome(id);
          }
          const expected = failure === 'none' ? 'COMPLETED' : 'COMPENSATED';
          expect(outcome?.status).toBe(expected);
          expect(outcome?.finished).toBe(true);
          const effects = await effectsOf(storage, id);
          if (expected === 'COMPLETED') {
            expect(effects).toEqual(names.map((step) => ({ step, undone: false })));
          } else {
            expect(effects.every((e) => e.undone)).toBe(true);
            // A step failing with an error may have landed its effect (so it is compensated too),
            // except a local or fused one: its effect commits only with its checkpoint.
            const failingKind = logging[names.indexOf(failing)];
            const failingLanded = failure === 'error' && failingKind !== 'local' && failingKind !== 'fused';
            const reached = names.slice(0, names.indexOf(failing) + (failingLanded ? 1 : 0));
            expect(effects.map((e) => e.step)).toEqual(reached);
          }
          for (const name of names.slice(names.indexOf(failing) + 1)) {
            if (failure !== 'none') expect(script.runs.has(name)).toBe(false);
          }
        }),
        { numRuns: 40 },
      );
    });
  });
}
