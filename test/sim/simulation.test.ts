import { describe, expect, it } from 'vitest';
import { SIM_BUGS, type SimBug } from '../../apps/agora/src/sim/bugs.js';
import { runSeed, runSeeds } from '../../apps/agora/src/sim/run.js';
import { runSimCommand } from '../../apps/agora/src/sim/command.js';

/*
 * The deterministic simulation of checkout (docs/simulation.md): the real saga driver and checkout
 * steps over modelled stores, a faulty network and crashing processes in virtual time. Correctness
 * only: no timing is asserted (the machine is shared); the seeds/s figure is `agora sim`'s to print.
 */

/** Seeds CI runs on every push; `agora sim --seeds N` runs more. */
const CI_SEEDS = 1_000;
/** Each planted bug must be caught within this many seeds. */
const BUG_FOUND_WITHIN = 200;

describe('deterministic simulation', () => {
  it(`${CI_SEEDS} seeds with faults settle with every invariant holding`, async () => {
    const batch = await runSeeds(1, CI_SEEDS);
    const failures = batch.failed.map((f) => `seed ${f.seed}: ${f.violations.join('; ')}`);
    expect(failures).toEqual([]);
    expect(batch.seeds).toBe(CI_SEEDS);
    // The runs did meet every kind of fault, and still sold: a run with no fault or no sale proves nothing.
    for (const [kind, count] of Object.entries(batch.faults)) expect(count, kind).toBeGreaterThan(50);
    expect(batch.confirmed).toBeGreaterThan(CI_SEEDS / 2);
    expect(batch.orders).toBeGreaterThan(batch.confirmed);
  }, 300_000);

  it('one seed replays to the byte: two runs give identical traces; other seeds differ', async () => {
    for (const seed of [7, 1234, 99_999]) {
      const first = await runSeed(seed, { keepTrace: true });
      const second = await runSeed(seed, { keepTrace: true });
      expect(first.trace?.length).toBeGreaterThan(10);
      expect(second.trace?.join('\n')).toBe(first.trace?.join('\n'));
      expect(second.traceDigest).toBe(first.traceDigest);
      expect(second.faults).toEqual(first.faults);
    }
    const digests = new Set(await Promise.all([1, 2, 3, 4].map(async (seed) => (await runSeed(seed)).traceDigest)));
    expect(digests.size).toBe(4);
  }, 120_000);

  // Each bug planted in the simulated system must be caught by the invariants, and its seed replays.
  const expected: Record<SimBug, RegExp> = {
    'compensation-keeps-stock': /still HELD after its saga ended/,
    'capture-not-idempotent': /captured 2 times at the provider/,
    'transient-declines': /an approved card \(tok_visa\) ended PAYMENT_FAILED/,
    'no-stock-guard': /oversold|on hand -\d+ < 0|reserved \d+ > on hand/,
  };
  for (const bug of Object.keys(SIM_BUGS) as SimBug[]) {
    it(`catches a planted bug within ${BUG_FOUND_WITHIN} seeds: ${SIM_BUGS[bug]}`, async () => {
      const batch = await runSeeds(1, BUG_FOUND_WITHIN, { bugs: new Set([bug]), maxFailures: 1 });
      const [found] = batch.failed;
      expect(found, `no seed of ${BUG_FOUND_WITHIN} caught ${bug}`).toBeDefined();
      if (!found) return;
      expect(found.violations.join('\n')).toMatch(expected[bug]);
      // The failing seed replays: the same violations, the same trace.
      const replay = await runSeed(found.seed, { bugs: new Set([bug]) });
      expect(replay.violations).toEqual(found.violations);
      expect(replay.traceDigest).toBe(found.traceDigest);
    }, 120_000);
  }

  it('agora sim prints a failing seed with the command that replays it, and exits 1', async () => {
    let out = '';
    const code = await runSimCommand(['--seed', '1', '--seeds', '50', '--bug', 'capture-not-idempotent', '--json'], { stdout: (t) => (out += t), stderr: () => undefined });
    expect(code).toBe(1);
    const report = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { seeds: number; failed: { seed: number; replay: string }[] };
    const [first] = report.failed;
    expect(first?.replay).toBe(`agora sim --seed ${first?.seed} --trace --bug capture-not-idempotent`);
    let clean = '';
    expect(await runSimCommand(['--seed', '1', '--seeds', '5'], { stdout: (t) => (clean += t), stderr: () => undefined })).toBe(0);
    expect(clean).toMatch(/violations: none/);
    expect(clean).toMatch(/drop-request \d+, drop-response \d+, duplicate \d+/);
  }, 120_000);
});
