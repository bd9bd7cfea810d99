import { SIM_FAULT_KINDS, SIM_LIMITS, SimRuntime, type SimEndReason, type SimFaultKind } from '@agora/platform';
import type { SimBug } from './bugs.js';
import { checkWorld } from './invariants.js';
import { buildWorld } from './world.js';

export interface SimSeedResult {
  seed: number;
  end: SimEndReason;
  /** Virtual time the run took, in ms. */
  virtualMs: number;
  events: number;
  faults: Record<SimFaultKind, number>;
  orders: number;
  confirmed: number;
  serverErrors: number;
  /** Confirmed orders whose cart kept its lines (clearCart met a fault: by design it never decides an order). */
  cartsKept: number;
  violations: string[];
  /** The whole trace digested (FNV-1a and line count): equal digests, equal traces. */
  traceDigest: string;
  trace?: readonly string[];
}

export interface SimSeedOptions {
  bugs?: ReadonlySet<SimBug>;
  keepTrace?: boolean;
}

/** One seed: build its world, run it until it settles (or a limit), then check every law. */
export async function runSeed(seed: number, options: SimSeedOptions = {}): Promise<SimSeedResult> {
  const rt = new SimRuntime(seed, { keepTrace: options.keepTrace ?? false });
  const { world, start } = buildWorld(rt, options.bugs ?? new Set());
  start();
  const settled = (): boolean =>
    world.healed &&
    world.shoppers.every((s) => s.done) &&
    world.processes.every((p) => p.alive && !p.stopped) &&
    world.sagas.allFinished();
  const end = await rt.run(settled, SIM_LIMITS);
  const violations = [...world.violations, ...world.inventory.violations];
  if (end !== 'settled') violations.push(`the run did not settle (${end}) by ${rt.clock.elapsed()} ms, ${rt.events} events`);
  violations.push(...checkWorld(world));
  const statuses = [...world.orders.orders.values()].map((r) => r.order.status);
  rt.trace(`end ${end}: ${violations.length} violations`);
  return {
    seed,
    end,
    virtualMs: rt.clock.elapsed(),
    events: rt.events,
    faults: { ...rt.faults },
    orders: statuses.length,
    confirmed: statuses.filter((s) => s === 'CONFIRMED').length,
    serverErrors: world.shoppers.reduce((n, s) => n + s.serverErrors, 0),
    cartsKept: [...world.orders.orders.values()].filter((r) => r.order.status === 'CONFIRMED' && !world.cart.checkedOut.has(r.order.id)).length,
    violations,
    traceDigest: rt.traceDigest,
    ...(options.keepTrace ? { trace: rt.traceLines } : {}),
  };
}

export interface SimBatchResult {
  firstSeed: number;
  seeds: number;
  failed: SimSeedResult[];
  faults: Record<SimFaultKind, number>;
  orders: number;
  confirmed: number;
  events: number;
  wallMs: number;
  /** CPU time of this process over the batch (user + system): what a seed costs, whatever else the machine runs. */
  cpuMs: number;
}

/** Seeds `firstSeed`, `firstSeed + 1`, ... one after another; stops early after `maxFailures` failing seeds. */
export async function runSeeds(firstSeed: number, seeds: number, options: SimSeedOptions & { maxFailures?: number; onSeed?: (r: SimSeedResult) => void } = {}): Promise<SimBatchResult> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const faults = Object.fromEntries(SIM_FAULT_KINDS.map((k) => [k, 0])) as Record<SimFaultKind, number>;
  const batch: SimBatchResult = { firstSeed, seeds: 0, failed: [], faults, orders: 0, confirmed: 0, events: 0, wallMs: 0, cpuMs: 0 };
  for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
    const result = await runSeed(seed, options);
    batch.seeds += 1;
    batch.orders += result.orders;
    batch.confirmed += result.confirmed;
    batch.events += result.events;
    for (const kind of SIM_FAULT_KINDS) faults[kind] += result.faults[kind];
    options.onSeed?.(result);
    if (result.violations.length > 0) {
      batch.failed.push(result);
      if (batch.failed.length >= (options.maxFailures ?? Number.POSITIVE_INFINITY)) break;
    }
  }
  batch.wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  batch.cpuMs = (used.user + used.system) / 1000;
  return batch;
}
