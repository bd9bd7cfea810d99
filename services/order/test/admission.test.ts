import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError, ConfigError, EnvReader, LIMITS } from '@agora/kernel';
import { Metrics } from '@agora/platform';
import { CHECKOUT_LIMITS } from '../src/app/checkout/input.js';
import {
  AdmissionGate,
  CHECKOUT_ADMISSION_DEFAULTS,
  CHECKOUT_ADMISSION_ENV,
  CHECKOUT_RETRY_AFTER_SECONDS,
  checkoutAdmissionFromEnv,
  checkoutGate,
  type AdmissionLimits,
  type AdmissionObserver,
  type RefusalReason,
} from '../src/app/admission.js';

/** A promise the test settles by hand: the work of one admitted entry. */
function deferred(): { promise: Promise<void>; resolve(): void; reject(error: Error): void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Counts what the gate reports, and the highest concurrency its work ever saw. */
class Recorder implements AdmissionObserver {
  inFlight = 0;
  queued = 0;
  readonly refusals: RefusalReason[] = [];
  inFlightChanged(delta: 1 | -1): void {
    this.inFlight += delta;
  }
  queuedChanged(delta: 1 | -1): void {
    this.queued += delta;
  }
  refused(reason: RefusalReason): void {
    this.refusals.push(reason);
  }
}

/** Lets every callback already scheduled run (promise jobs; no timers). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function refusal(error: unknown): AppError {
  expect(error).toBeInstanceOf(AppError);
  const appError = error as AppError;
  expect(appError.code).toBe('UNAVAILABLE');
  expect(appError.status).toBe(503);
  expect(appError.retryAfterSeconds).toBe(CHECKOUT_RETRY_AFTER_SECONDS);
  return appError;
}

const LONG_WAIT: AdmissionLimits = { maxInFlight: 3, maxQueued: 4, queueWaitMs: LIMITS.serviceCallTimeoutMs - 1 };

describe('AdmissionGate', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('admits waiters in the order they arrived, one per released slot', async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 5, queueWaitMs: LIMITS.serviceCallTimeoutMs - 1 });
    const started: number[] = [];
    const works = Array.from({ length: 6 }, () => deferred());
    const runs = works.map((work, i) =>
      gate.run(async () => {
        started.push(i);
        await work.promise;
      }),
    );
    await settle();
    expect(started).toEqual([0]);
    expect(gate.queued).toBe(5);
    for (let i = 0; i < works.length; i++) {
      (works[i] as ReturnType<typeof deferred>).resolve();
      await settle();
      // Releasing slot i admits exactly the next waiter, and no other.
      expect(started).toEqual(Array.from({ length: Math.min(i + 2, works.length) }, (_, k) => k));
    }
    await Promise.all(runs);
    expect(gate.inFlight).toBe(0);
    expect(gate.queued).toBe(0);
  });

  it('under N+M+k entries at once: exactly k refused, never more than N running, every admitted one runs', async () => {
    const k = 5;
    const total = LONG_WAIT.maxInFlight + LONG_WAIT.maxQueued + k;
    const recorder = new Recorder();
    const gate = new AdmissionGate(LONG_WAIT, CHECKOUT_RETRY_AFTER_SECONDS, recorder);
    let running = 0;
    let maxRunning = 0;
    let completed = 0;
    const release = deferred();
    const outcomes = await (async () => {
      const runs = Array.from({ length: total }, () =>
        gate.run(async () => {
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          await release.promise;
          await settle();
          running -= 1;
          completed += 1;
        }),
      );
      const outcomesOfRuns = Promise.allSettled(runs);
      await settle();
      // The race happened: every slot and every queue place is taken at the same moment.
      expect([gate.inFlight, gate.queued]).toEqual([LONG_WAIT.maxInFlight, LONG_WAIT.maxQueued]);
      expect([recorder.inFlight, recorder.queued]).toEqual([LONG_WAIT.maxInFlight, LONG_WAIT.maxQueued]);
      release.resolve();
      return outcomesOfRuns;
    })();

    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused).toHaveLength(k);
    for (const o of refused) refusal((o as PromiseRejectedResult).reason);
    // The refused ones are the last arrivals: the queue was full when they came.
    expect(outcomes.slice(total - k).every((o) => o.status === 'rejected')).toBe(true);
    expect(recorder.refusals).toEqual(Array.from({ length: k }, () => 'queue_full'));
    expect(completed).toBe(total - k);
    expect(maxRunning).toBe(LONG_WAIT.maxInFlight);
    expect([gate.inFlight, gate.queued, recorder.inFlight, recorder.queued]).toEqual([0, 0, 0, 0]);
  });

  it('refuses a waiter whose wait passes queueWaitMs, without ever calling its work', async () => {
    vi.useFakeTimers();
    const recorder = new Recorder();
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 2, queueWaitMs: 1_000 }, CHECKOUT_RETRY_AFTER_SECONDS, recorder);
    const holder = deferred();
    const first = gate.run(() => holder.promise);
    let lateWorkCalled = false;
    const late = gate.run(async () => {
      lateWorkCalled = true;
    });
    const lateOutcome = late.then(
      () => 'admitted',
      (error: unknown) => error,
    );
    await vi.advanceTimersByTimeAsync(999);
    expect(gate.queued).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const error = refusal(await lateOutcome);
    expect(error.message).toMatch(/no slot freed within 1000 ms/);
    expect(lateWorkCalled).toBe(false);
    expect(gate.queued).toBe(0);
    expect(recorder.refusals).toEqual(['wait_timeout']);
    expect(recorder.queued).toBe(0);

    // The slot holder is unaffected, and the gate admits again once it is done.
    holder.resolve();
    await first;
    await expect(gate.run(async () => 'next')).resolves.toBe('next');
    expect(gate.inFlight).toBe(0);
  });

  it('a waiter admitted before its deadline is not refused when the deadline passes', async () => {
    vi.useFakeTimers();
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 1, queueWaitMs: 1_000 });
    const holder = deferred();
    const first = gate.run(() => holder.promise);
    const second = deferred();
    let secondStarted = false;
    const waiting = gate.run(async () => {
      secondStarted = true;
      await second.promise;
      return 'done';
    });
    await vi.advanceTimersByTimeAsync(500);
    holder.resolve();
    await first;
    expect(secondStarted).toBe(true);
    await vi.advanceTimersByTimeAsync(5_000);
    second.resolve();
    await expect(waiting).resolves.toBe('done');
  });

  it('gives the slot back when the work throws, and hands it to the next waiter', async () => {
    const recorder = new Recorder();
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 1, queueWaitMs: LIMITS.serviceCallTimeoutMs - 1 }, CHECKOUT_RETRY_AFTER_SECONDS, recorder);
    const failing = deferred();
    const first = gate.run(() => failing.promise);
    const next = gate.run(async () => 'next ran');
    await settle();
    expect([gate.inFlight, gate.queued]).toEqual([1, 1]);
    failing.reject(new Error('saga failed'));
    await expect(first).rejects.toThrow('saga failed');
    await expect(next).resolves.toBe('next ran');
    // Many failures in a row leak nothing either.
    for (let i = 0; i < 10; i++) {
      await expect(
        gate.run(async () => {
          throw new Error(`boom ${i}`);
        }),
      ).rejects.toThrow(`boom ${i}`);
    }
    expect([gate.inFlight, gate.queued, recorder.inFlight, recorder.queued]).toEqual([0, 0, 0, 0]);
    expect(recorder.refusals).toEqual([]);
  });

  it('with no queue, refuses whatever finds every slot taken', async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 0, queueWaitMs: 1_000 });
    const holder = deferred();
    const first = gate.run(() => holder.promise);
    refusal(await gate.run(async () => 'never').catch((error: unknown) => error));
    holder.resolve();
    await first;
  });

  it('refuses limits out of range', () => {
    expect(() => new AdmissionGate({ ...CHECKOUT_ADMISSION_DEFAULTS, maxInFlight: 0 })).toThrow(ConfigError);
    expect(() => new AdmissionGate({ ...CHECKOUT_ADMISSION_DEFAULTS, queueWaitMs: LIMITS.serviceCallTimeoutMs })).toThrow(/queueWaitMs/);
    expect(() => new AdmissionGate(CHECKOUT_ADMISSION_DEFAULTS, 0)).toThrow(/retryAfterSeconds/);
  });
});

describe('checkout admission settings', () => {
  it('default to limits that keep a queued checkout well inside the gateway call timeout', () => {
    expect(checkoutAdmissionFromEnv(new EnvReader({}))).toEqual(CHECKOUT_ADMISSION_DEFAULTS);
    // The answer is due half the call timeout after arrival, the wait included, or once the order
    // is open when the wait took longer (app/checkout): the longest wait leaves a fifth of the
    // call timeout for opening the order and the way back.
    expect(CHECKOUT_LIMITS.answerWithinMs).toBeLessThanOrEqual(LIMITS.serviceCallTimeoutMs / 2);
    expect(CHECKOUT_ADMISSION_DEFAULTS.queueWaitMs).toBeLessThanOrEqual((LIMITS.serviceCallTimeoutMs * 4) / 5);
    expect(Number.isInteger(CHECKOUT_ADMISSION_DEFAULTS.queueWaitMs)).toBe(true);
  });

  it('read every limit from the environment', () => {
    const env = new EnvReader({ [CHECKOUT_ADMISSION_ENV.maxInFlight]: '2', [CHECKOUT_ADMISSION_ENV.maxQueued]: '0', [CHECKOUT_ADMISSION_ENV.queueWaitMs]: '150' });
    expect(checkoutAdmissionFromEnv(env)).toEqual({ maxInFlight: 2, maxQueued: 0, queueWaitMs: 150 });
  });

  it.each([
    [CHECKOUT_ADMISSION_ENV.maxInFlight, '0'],
    [CHECKOUT_ADMISSION_ENV.maxInFlight, 'many'],
    [CHECKOUT_ADMISSION_ENV.maxQueued, '-1'],
    [CHECKOUT_ADMISSION_ENV.queueWaitMs, String(LIMITS.serviceCallTimeoutMs)],
  ])('a bad %s (%s) fails naming the variable', (variable, value) => {
    expect(() => checkoutAdmissionFromEnv(new EnvReader({ [variable]: value }))).toThrow(new RegExp(`^${variable}: `));
  });

  it('count in flight, queued and refused checkouts in the service metrics', async () => {
    const metrics = new Metrics(false);
    const gate = checkoutGate(new EnvReader({ [CHECKOUT_ADMISSION_ENV.maxInFlight]: '1', [CHECKOUT_ADMISSION_ENV.maxQueued]: '1' }), metrics);
    const holder = deferred();
    const first = gate.run(() => holder.promise);
    const second = gate.run(async () => undefined);
    await gate.run(async () => undefined).catch(() => undefined);
    const during = await metrics.text();
    expect(during).toMatch(/^agora_order_checkouts_in_flight 1$/m);
    expect(during).toMatch(/^agora_order_checkouts_queued 1$/m);
    expect(during).toMatch(/^agora_order_checkouts_refused_total\{reason="queue_full"\} 1$/m);
    holder.resolve();
    await Promise.all([first, second]);
    const after = await metrics.text();
    expect(after).toMatch(/^agora_order_checkouts_in_flight 0$/m);
    expect(after).toMatch(/^agora_order_checkouts_queued 0$/m);
  });
});
