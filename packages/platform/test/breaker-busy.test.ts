import { describe, expect, it } from 'vitest';
import { ResiliencePolicy, isLoadShed, type ResilientCall, type ServiceEndpoint, type StatusAnswer } from '../src/index.js';

/**
 * Breakers open on a sick instance, not on a busy one (docs/operations.md, "Breakers"): a 503
 * that says when to come back (Retry-After: admission control, a bulkhead, a transient fault the
 * instance classified) and a timeout while the instance answered other calls do not count; a
 * 503 without Retry-After, a refused connection and a timeout of a silent instance do.
 */

const ONE: ServiceEndpoint = { id: 'order-1', url: 'http://10.0.0.1:3000' };
const THRESHOLD = 3;
/** Per-attempt timeout of the writes below: short, so a "slow" call times out quickly. */
const WRITE_TIMEOUT_MS = 40;
const SETTINGS = { retries: 0, retryBaseDelayMs: 0, retryMaxDelayMs: 0, breakerFailures: THRESHOLD, breakerHalfOpenAfterMs: 60_000, writeTimeoutMs: WRITE_TIMEOUT_MS };

type Answer = StatusAnswer & { headers: Record<string, string> };

function call(send: (signal: AbortSignal) => Promise<Answer>): ResilientCall<Answer> {
  return { idempotent: false, read: false, endpoints: () => [ONE], pick: (candidates) => candidates[0], send: (_endpoint, signal) => send(signal) };
}

const answer = (status: number, headers: Record<string, string> = {}) => async (): Promise<Answer> => ({ status, headers });
const hang = (signal: AbortSignal) => new Promise<Answer>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
const settle = <T>(promise: Promise<T>) => promise.then(() => undefined, () => undefined);

describe('breakers and busy instances', () => {
  it('503 with Retry-After (a shed) never opens the breaker; 503 without it does', async () => {
    const shedding = new ResiliencePolicy('order', SETTINGS);
    for (let i = 0; i < THRESHOLD * 3; i++) expect((await shedding.execute(call(answer(503, { 'retry-after': '1' })))).status).toBe(503);
    expect(shedding.breakerStates()[0]).toMatchObject({ state: 'closed', consecutiveFailures: 0 });

    const sick = new ResiliencePolicy('order', SETTINGS);
    for (let i = 0; i < THRESHOLD; i++) await sick.execute(call(answer(503)));
    expect(sick.breakerStates()[0]?.state).toBe('open');
  });

  it('a shed is a 503 that says when to come back; outlier ejection (HttpTransport) skips it like the breaker does', () => {
    expect(isLoadShed({ status: 503, headers: { 'retry-after': '1' } })).toBe(true);
    expect(isLoadShed({ status: 503, headers: {} })).toBe(false);
    expect(isLoadShed({ status: 502, headers: { 'retry-after': '1' } })).toBe(false);
  });

  it('timeouts of an instance that keeps answering other calls (busy) do not open it; timeouts of a silent one do', async () => {
    const busy = new ResiliencePolicy('order', SETTINGS);
    for (let i = 0; i < THRESHOLD * 2; i++) {
      const slow = settle(busy.execute(call(hang)));
      // Meanwhile the instance answers another caller: it is alive, only queueing.
      await busy.execute(call(answer(201)));
      await slow;
    }
    expect(busy.breakerStates()[0]?.state).toBe('closed');

    const silent = new ResiliencePolicy('order', SETTINGS);
    for (let i = 0; i < THRESHOLD; i++) await settle(silent.execute(call(hang)));
    expect(silent.breakerStates()[0]).toMatchObject({ state: 'open', consecutiveFailures: THRESHOLD });
  });

  it('a busy timeout is still a timeout to the caller (503 naming it), and retried only when idempotent', async () => {
    const policy = new ResiliencePolicy('order', SETTINGS);
    const slow = policy.execute(call(hang));
    await policy.execute(call(answer(200)));
    await expect(slow).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/timed out/) as unknown });
  });
});
