import { describe, expect, it } from 'vitest';
import { buildSchedule, faultKinds, SCHEDULE_LIMITS } from '../src/chaos/schedule.js';
import { parseDuration } from '../src/chaos/command.js';
import { replayCommand } from '../src/chaos/report.js';

const VICTIMS = ['order-1', 'order-2', 'inventory-1', 'inventory-2', 'payment-1'];
const input = (seed: number, durationMs = 20_000, pgbouncer = false) => ({ seed, durationMs, victims: VICTIMS, pgbouncer, leaseMs: 3_000 });

describe('the chaos schedule', () => {
  it('is a function of its seed: the same seed gives the same schedule, another seed another one', () => {
    expect(buildSchedule(input(7))).toEqual(buildSchedule(input(7)));
    expect(buildSchedule(input(7))).not.toEqual(buildSchedule(input(8)));
    // The order the victims are listed in does not matter.
    expect(buildSchedule({ ...input(7), victims: [...VICTIMS].reverse() })).toEqual(buildSchedule(input(7)));
  });

  it('has every kind at least once even in a short run, PgBouncer restarts only with PgBouncer', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const kinds = new Set(buildSchedule(input(seed, 5_000)).map((f) => f.kind));
      expect([...kinds].sort()).toEqual(faultKinds(false).sort());
      expect(new Set(buildSchedule(input(seed, 5_000, true)).map((f) => f.kind)).has('restart-pgbouncer')).toBe(true);
    }
    expect(faultKinds(false)).not.toContain('restart-pgbouncer');
  });

  it('spaces faults over the run, in time order, on listed members, a SIGSTOP outlasting the lease', () => {
    const schedule = buildSchedule(input(3, 600_000));
    expect(schedule.length).toBe(600 / SCHEDULE_LIMITS.faultSpacingS);
    const times = schedule.map((f) => f.atMs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times[0]).toBeGreaterThanOrEqual(SCHEDULE_LIMITS.leadInMs);
    expect(times.at(-1)).toBeLessThan(600_000);
    for (const fault of schedule) {
      if (fault.kind === 'sigkill' || fault.kind === 'sigterm' || fault.kind === 'sigstop') expect(VICTIMS).toContain(fault.target);
      if (fault.kind === 'sigstop') expect(fault.holdMs).toBeGreaterThan(3_000);
    }
  });

  it('refuses a seed that is not an integer and a run without members to signal', () => {
    expect(() => buildSchedule(input(1.5))).toThrow(/integer/);
    expect(() => buildSchedule({ ...input(1), victims: [] })).toThrow(/no member/);
  });
});

describe('agora chaos arguments', () => {
  it('reads durations in seconds, minutes or hours and refuses others', () => {
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('20s')).toBe(20);
    expect(parseDuration('30m')).toBe(1_800);
    expect(parseDuration('1h')).toBe(3_600);
    for (const bad of ['0', '-5', '1.5m', 'soon', '25h']) expect(() => parseDuration(bad), bad).toThrow(/--duration/);
  });

  it('prints a replay command with the same seed, duration and PgBouncer', () => {
    expect(replayCommand(42, 20, true)).toBe('agora chaos --seed 42 --duration 20s --pgbouncer');
    expect(replayCommand(42, 20, false)).toBe('agora chaos --seed 42 --duration 20s');
  });
});
