import { cpus, loadavg } from 'node:os';
import { HASH_RING_DEFAULTS, HashRing, jumpHash, rendezvousPick, type RendezvousNode } from '@agora/platform';
import { round } from './stats.js';

/**
 * `agora bench ring`: the three consistent-hashing schemes of packages/platform/src/hashing on the
 * same keys. Balance and movement are pure functions of the key and node names (`key-<i>`,
 * `node-<i>`), so they are the same on every machine and every run; lookups/s is a timing and
 * depends on the machine and its load.
 */
export const RING_BENCH_LIMITS = {
  nodesMax: 1_000,
  keysMax: 10_000_000,
} as const;

export interface RingBenchOptions {
  nodes: number;
  keys: number;
  progress?: (line: string) => void;
}

export interface SchemeFigures {
  /** Keys of the busiest node ÷ the mean keys per node (1 is perfect balance). */
  maxOverMean: number;
  /** Share of the keys whose node changed when node `nodes` joined (ideal 1 / (nodes + 1)). */
  movedFraction: number;
  /** Keys that moved to a node other than the newcomer: 0 for a consistent scheme. */
  movedElsewhere: number;
  /** Placements per second over the first pass (one thread, keys prebuilt). */
  lookupsPerSec: number;
}

export interface RingReport {
  scenario: 'ring';
  nodes: number;
  keys: number;
  /** The ring's points per node: its default. */
  virtualNodes: number;
  /** 1 / (nodes + 1): the share a perfectly consistent scheme moves. */
  idealMovedFraction: number;
  ring: SchemeFigures;
  rendezvous: SchemeFigures;
  jump: SchemeFigures;
  machine: { cpus: number; model: string; node: string; loadAverage1mBefore: number };
}

type Placer = (key: string) => number;

const nodeName = (i: number): string => `node-${i}`;

/** Each scheme answers a node index, so the counting below is the same for all three. */
const SCHEMES: Record<'ring' | 'rendezvous' | 'jump', (nodes: number) => Placer> = {
  ring: (nodes) => {
    const ring = new HashRing<number>();
    for (let i = 0; i < nodes; i++) ring.add(nodeName(i), i);
    return (key) => ring.lookup(key)!;
  },
  rendezvous: (nodes) => {
    const members: (RendezvousNode & { index: number })[] = Array.from({ length: nodes }, (_, i) => ({ id: nodeName(i), index: i }));
    return (key) => rendezvousPick(key, members)!.index;
  },
  jump: (nodes) => (key) => jumpHash(key, nodes),
};

function measure(keys: readonly string[], nodes: number, makePlacer: (nodes: number) => Placer): SchemeFigures {
  const before = makePlacer(nodes);
  const owners = new Int32Array(keys.length);
  const counts = new Float64Array(nodes);
  // The ring builds its layout at the first lookup: keep that out of the timing.
  before('warm-up');
  const started = process.hrtime.bigint();
  for (let i = 0; i < keys.length; i++) {
    const owner = before(keys[i]!);
    owners[i] = owner;
    counts[owner]!++;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const after = makePlacer(nodes + 1);
  let moved = 0;
  let movedElsewhere = 0;
  for (let i = 0; i < keys.length; i++) {
    const owner = after(keys[i]!);
    if (owner === owners[i]) continue;
    moved++;
    if (owner !== nodes) movedElsewhere++;
  }
  const mean = keys.length / nodes;
  return {
    maxOverMean: round(Math.max(...counts) / mean, 4),
    movedFraction: round(moved / keys.length, 4),
    movedElsewhere,
    lookupsPerSec: Math.round(keys.length / seconds),
  };
}

export function runRingBench(options: RingBenchOptions): RingReport {
  const loadAverage1mBefore = round(loadavg()[0] ?? Number.NaN, 2);
  const keys = Array.from({ length: options.keys }, (_, i) => `key-${i}`);
  const figures = {} as Record<keyof typeof SCHEMES, SchemeFigures>;
  for (const [name, makePlacer] of Object.entries(SCHEMES) as [keyof typeof SCHEMES, (nodes: number) => Placer][]) {
    options.progress?.(`${name}: ${options.keys} keys over ${options.nodes} nodes, then ${options.nodes + 1}`);
    figures[name] = measure(keys, options.nodes, makePlacer);
  }
  return {
    scenario: 'ring',
    nodes: options.nodes,
    keys: options.keys,
    virtualNodes: HASH_RING_DEFAULTS.virtualNodes,
    idealMovedFraction: round(1 / (options.nodes + 1), 4),
    ...figures,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage1mBefore },
  };
}

export function formatRingTable(r: RingReport): string {
  const rows = (['ring', 'rendezvous', 'jump'] as const).map((name) => {
    const f = r[name];
    return `  ${name.padEnd(11)} ${f.maxOverMean.toFixed(4).padStart(12)} ${f.movedFraction.toFixed(4).padStart(14)} ${String(f.movedElsewhere).padStart(15)} ${f.lookupsPerSec.toLocaleString('en-US').padStart(13)}`;
  });
  return [
    `  ${r.keys.toLocaleString('en-US')} keys over ${r.nodes} nodes (ring: ${r.virtualNodes} virtual nodes each); then node ${r.nodes} joins (ideal moved share ${r.idealMovedFraction})`,
    '',
    `  ${'scheme'.padEnd(11)} ${'max / mean'.padStart(12)} ${'moved share'.padStart(14)} ${'moved elsewhere'.padStart(15)} ${'lookups/s'.padStart(13)}`,
    ...rows,
    '',
    `  balance and movement are deterministic; lookups/s is a timing (load average before: ${r.machine.loadAverage1mBefore} on ${r.machine.cpus} cores)`,
  ].join('\n');
}
