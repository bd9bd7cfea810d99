import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { SIM_FAULT_KINDS } from '@agora/platform';
import { SIM_BUGS, isSimBug, type SimBug } from './bugs.js';
import { runSeed, runSeeds, type SimBatchResult, type SimSeedResult } from './run.js';

export const SIM_USAGE = `usage: agora sim [--seeds N] [--seed S] [--json] [--trace] [--bug NAME]

  Deterministic simulation of checkout: the real saga driver and the real checkout steps, over
  models of the order, inventory, payment and cart stores, in virtual time, with two order
  instances, a network that delays, reorders, drops and duplicates calls, databases that refuse
  statements or lose their acknowledgements, and processes that crash between any two steps or
  stop past their saga lease. After a fault window every process is healed; the run must settle
  and every invariant hold (docs/simulation.md).

  --seeds N   how many seeds (default ${1_000}; ${1} when --seed is given alone)
  --seed S    the first seed (default: drawn from the clock, and printed)
  --trace     print each seed's trace (one seed: the replay of a failure)
  --bug NAME  plant a bug the invariants must catch: ${Object.keys(SIM_BUGS).join(', ')}
  --json      the last stdout line is { firstSeed, seeds, seedsPerSecond, faults, violations, failed }

  Exit 0 only if no seed broke an invariant; each failing seed prints the command that replays it.`;

export const SIM_CLI = {
  defaultSeeds: 1_000,
  maxSeeds: 10_000_000,
  /** Failing seeds listed (and the batch stops after this many). */
  maxFailuresShown: 10,
  violationsShownPerSeed: 8,
} as const;

export interface SimCommandContext {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** `agora sim`: returns the exit code. */
export async function runSimCommand(args: readonly string[], ctx: SimCommandContext): Promise<number> {
  let values: { seeds?: string; seed?: string; json?: boolean; trace?: boolean; bug?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { seeds: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' }, trace: { type: 'boolean' }, bug: { type: 'string' }, help: { type: 'boolean' } },
    }));
  } catch (err) {
    ctx.stderr(`${err instanceof Error ? err.message : String(err)}\n\n${SIM_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    ctx.stdout(`${SIM_USAGE}\n`);
    return 0;
  }
  const firstSeed = values.seed === undefined ? Date.now() % 1_000_000_000 : Number(values.seed);
  const seeds = values.seeds !== undefined ? Number(values.seeds) : values.seed !== undefined ? 1 : SIM_CLI.defaultSeeds;
  if (!Number.isSafeInteger(firstSeed) || firstSeed < 0) return usage(ctx, `--seed must be a non-negative integer, got ${values.seed}`);
  if (!Number.isSafeInteger(seeds) || seeds < 1 || seeds > SIM_CLI.maxSeeds) return usage(ctx, `--seeds must be 1..${SIM_CLI.maxSeeds}, got ${values.seeds}`);
  const bugs = new Set<SimBug>();
  if (values.bug !== undefined) {
    if (!isSimBug(values.bug)) return usage(ctx, `unknown --bug ${values.bug}`);
    bugs.add(values.bug);
  }
  const bugFlag = values.bug === undefined ? '' : ` --bug ${values.bug}`;

  if (values.trace) {
    for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
      const result = await runSeed(seed, { bugs, keepTrace: true });
      ctx.stdout(`${(result.trace ?? []).join('\n')}\n`);
      if (!values.json) ctx.stdout(`${describeSeed(result, bugFlag)}\n`);
    }
  }
  if (!values.json) ctx.stdout(`agora sim: seeds ${firstSeed}..${firstSeed + seeds - 1}${bugFlag}\n`);
  const batch = await runSeeds(firstSeed, seeds, { bugs, maxFailures: SIM_CLI.maxFailuresShown });
  const seedsPerSecond = batch.seeds / Math.max(batch.wallMs / 1000, 1e-9);
  const load = loadavg().map((l) => l.toFixed(2));
  if (values.json) {
    ctx.stdout(
      `${JSON.stringify({
        firstSeed,
        seeds: batch.seeds,
        seedsPerSecond: round(seedsPerSecond),
        seedsPerMinute: Math.round(seedsPerSecond * 60),
        cpuMsPerSeed: round(batch.cpuMs / batch.seeds),
        loadAverage: load.map(Number),
        faults: batch.faults,
        orders: batch.orders,
        confirmed: batch.confirmed,
        violations: batch.failed.reduce((n, f) => n + f.violations.length, 0),
        failed: batch.failed.map((f) => ({ seed: f.seed, violations: f.violations, replay: replayCommand(f.seed, bugFlag) })),
      })}\n`,
    );
  } else {
    ctx.stdout(formatBatch(batch, seedsPerSecond, load, bugFlag));
  }
  return batch.failed.length === 0 ? 0 : 1;
}

function formatBatch(batch: SimBatchResult, seedsPerSecond: number, load: string[], bugFlag: string): string {
  const lines = [
    `  ${batch.seeds} seeds in ${(batch.wallMs / 1000).toFixed(1)} s: ${seedsPerSecond.toFixed(1)} seeds/s (${Math.round(seedsPerSecond * 60)}/min), load average ${load.join(' ')}`,
    `  CPU ${(batch.cpuMs / 1000).toFixed(1)} s: ${(batch.cpuMs / batch.seeds).toFixed(1)} ms per seed (${Math.round((60_000 * batch.seeds) / Math.max(batch.cpuMs, 1))} seeds per CPU-minute)`,
    `  faults: ${SIM_FAULT_KINDS.map((k) => `${k} ${batch.faults[k]}`).join(', ')}`,
    `  orders ${batch.orders} (confirmed ${batch.confirmed}), ${batch.events} events`,
  ];
  if (batch.failed.length === 0) lines.push('  violations: none');
  for (const failed of batch.failed) lines.push(describeSeed(failed, bugFlag));
  return `${lines.join('\n')}\n`;
}

function describeSeed(result: SimSeedResult, bugFlag: string): string {
  if (result.violations.length === 0) return `  seed ${result.seed}: settled after ${result.virtualMs} virtual ms, no violation (trace ${result.traceDigest})`;
  const shown = result.violations.slice(0, SIM_CLI.violationsShownPerSeed).map((v) => `    - ${v}`);
  const more = result.violations.length - shown.length;
  return [
    `  seed ${result.seed}: ${result.violations.length} violation(s) (${result.end} after ${result.virtualMs} virtual ms)`,
    ...shown,
    ...(more > 0 ? [`    ... and ${more} more`] : []),
    `    replay: ${replayCommand(result.seed, bugFlag)}`,
  ].join('\n');
}

export function replayCommand(seed: number, bugFlag = ''): string {
  return `agora sim --seed ${seed} --trace${bugFlag}`;
}

function usage(ctx: SimCommandContext, message: string): number {
  ctx.stderr(`${message}\n\n${SIM_USAGE}\n`);
  return 2;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
