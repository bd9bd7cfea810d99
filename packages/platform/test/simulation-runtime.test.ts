import { describe, expect, it } from 'vitest';
import { SimNetwork, SimProcess, SimRandom, SimRuntime } from '../src/simulation/index.js';

const QUIET_DB = { minLatencyMs: 1, maxLatencyMs: 1, faultRate: 0, lostAckRate: 0 };

describe('simulation runtime', () => {
  it('a seed draws the same numbers every time; another seed others', () => {
    const a = new SimRandom(42);
    const b = new SimRandom(42);
    const drawn = Array.from({ length: 100 }, () => a.nextUint32());
    expect(Array.from({ length: 100 }, () => b.nextUint32())).toEqual(drawn);
    expect(new SimRandom(43).nextUint32()).not.toBe(drawn[0]);
    expect(new SimRandom(1).uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('timers fire in virtual time order, ties in scheduling order, without waiting for real', async () => {
    const rt = new SimRuntime(1);
    const fired: string[] = [];
    rt.clock.schedule(3_600_000, () => fired.push('hour'));
    rt.clock.schedule(5, () => fired.push('5a'));
    rt.clock.schedule(5, () => fired.push('5b'));
    rt.clock.schedule(0, () => rt.clock.schedule(1, () => fired.push('1 after 0')));
    expect(await rt.run(() => false, { horizonMs: 2 * 3_600_000, maxEvents: 100 })).toBe('idle');
    expect(fired).toEqual(['1 after 0', '5a', '5b', 'hour']);
    expect(rt.clock.elapsed()).toBe(3_600_000);
  });

  it('a crashed process hears nothing more; its statement may still have committed; a stopped one hears late', async () => {
    const rt = new SimRuntime(1);
    const proc = new SimProcess('p', rt, QUIET_DB);
    let applied = 0;
    let answered = false;
    void proc.statement('write', () => (applied += 1)).then(() => (answered = true));
    proc.crash('test');
    await rt.run(() => false);
    expect(applied).toBe(1);
    expect(answered).toBe(false);
    proc.restart();
    let heardAt = -1;
    proc.stop(1_000);
    proc.deliver(10, () => (heardAt = rt.clock.elapsed()));
    await rt.run(() => false);
    expect(heardAt).toBe(1_000 + 1);
  });

  it('a lost request times out as a transient fault the callee never saw; a duplicate runs the handler twice', async () => {
    const rt = new SimRuntime(3);
    const from = new SimProcess('a', rt, QUIET_DB);
    const to = new SimProcess('b', rt, QUIET_DB);
    const lossy = new SimNetwork(rt, { minLatencyMs: 1, maxLatencyMs: 5, dropRequestRate: 1, dropResponseRate: 0, duplicateRate: 0, callTimeoutMs: 100 });
    let handled = 0;
    const lost = lossy.call(from, to, 'op', async () => ++handled).catch((err: unknown) => err);
    await rt.run(() => false);
    expect(handled).toBe(0);
    expect(await lost).toMatchObject({ code: 'UNAVAILABLE' });
    const doubled = new SimNetwork(rt, { minLatencyMs: 1, maxLatencyMs: 5, dropRequestRate: 0, dropResponseRate: 0, duplicateRate: 1, callTimeoutMs: 100 });
    const answer = doubled.call(from, to, 'op', async () => ++handled);
    await rt.run(() => false);
    expect(handled).toBe(2);
    expect([1, 2]).toContain(await answer);
    expect(rt.faults['drop-request']).toBe(1);
    expect(rt.faults.duplicate).toBe(1);
  });
});
