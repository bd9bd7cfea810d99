import { describe, expect, it } from 'vitest';
import { PeriodicTask } from '../src/periodic.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PeriodicTask', () => {
  it('never runs the task twice at once: ticks that find it running are skipped', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const task = new PeriodicTask(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs++;
      await sleep(40);
      active--;
    }, () => undefined);
    task.start(5);
    await sleep(150);
    await task.stop();
    expect(maxActive).toBe(1);
    expect(runs).toBeGreaterThan(0);
    // Skipped, not queued: far fewer runs than ticks.
    expect(runs).toBeLessThan(150 / 5);
    expect(active).toBe(0);
  });

  it('hands a failure to onError and runs again on the next tick', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const task = new PeriodicTask(async () => {
      runs++;
      throw new Error(`run ${runs}`);
    }, (err) => errors.push(err));
    task.start(5);
    await sleep(60);
    await task.stop();
    expect(runs).toBeGreaterThan(1);
    expect(errors).toHaveLength(runs);
  });

  it('refuses an interval that is not a positive integer, and stop waits for the run in progress', async () => {
    const task = new PeriodicTask(() => sleep(30), () => undefined);
    expect(() => task.start(0)).toThrow(RangeError);
    expect(() => task.start(1.5)).toThrow(RangeError);
    let finished = false;
    const slow = new PeriodicTask(async () => {
      await sleep(50);
      finished = true;
    }, () => undefined);
    slow.start(1);
    await sleep(10);
    await slow.stop();
    expect(finished).toBe(true);
  });
});
