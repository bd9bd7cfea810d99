import type { OrderAnswer } from './invariants.js';
import type { History } from './history.js';
import type { MemberExit } from './faults.js';

/** What `agora chaos` prints: a summary for people and, with --json, one line for machines. */

export interface ChaosReport {
  seed: number;
  durationS: number;
  /** Faults applied, per kind. */
  faults: Record<string, number>;
  requests: number;
  /** How many invariants were broken (0: the run passed). */
  violations: number;
  pgbouncer: boolean;
  /** The broken invariants, each named. */
  violationList: string[];
  requestsByOp: Record<string, Record<string, number>>;
  /** Members that exited without a fault (the supervisor started them again). */
  unexpectedExits: { instanceId: string; atMs: number; code: number | null; signal: string | null }[];
  /** From the end of the load until the checker passed (or gave up). */
  recoveryMs: number;
  ordersByStatus: Record<string, number>;
  replay: string;
}

/** The command that runs the same schedule again. */
export function replayCommand(seed: number, durationS: number, pgbouncer: boolean): string {
  return `agora chaos --seed ${seed} --duration ${durationS}s${pgbouncer ? ' --pgbouncer' : ''}`;
}

/** 2xx answers that named an order (checkout, cancel, pay), for the checker. */
export function orderAnswers(history: History): OrderAnswer[] {
  const answers: OrderAnswer[] = [];
  for (const r of history.requests) {
    if (r.status < 200 || r.status > 299 || !r.orderId || !r.orderStatus) continue;
    if (r.op === 'checkout' || r.op === 'cancel' || r.op === 'pay') answers.push({ orderId: r.orderId, status: r.orderStatus, op: r.op });
  }
  return answers;
}

export function buildReport(input: {
  seed: number;
  durationS: number;
  pgbouncer: boolean;
  history: History;
  violations: readonly string[];
  exits: readonly MemberExit[];
  recoveryMs: number;
  ordersByStatus: Record<string, number>;
}): ChaosReport {
  return {
    seed: input.seed,
    durationS: input.durationS,
    faults: input.history.faultCounts(),
    requests: input.history.requestCount,
    violations: input.violations.length,
    pgbouncer: input.pgbouncer,
    violationList: [...input.violations],
    requestsByOp: input.history.summary(),
    unexpectedExits: input.exits.map(({ instanceId, atMs, code, signal }) => ({ instanceId, atMs, code, signal })),
    recoveryMs: input.recoveryMs,
    ordersByStatus: input.ordersByStatus,
    replay: replayCommand(input.seed, input.durationS, input.pgbouncer),
  };
}

/** The end of each unexpected exit's output: why it died. */
export function formatExits(exits: readonly MemberExit[]): string {
  return exits.map((e) => `--- ${e.instanceId} exited on its own at ${(e.atMs / 1000).toFixed(1)} s (${e.signal ?? `code ${e.code}`}); its last output:\n${e.output.slice(-REPORT_LIMITS.exitOutputChars)}\n`).join('');
}

/** The last output of each member (their warnings and errors, at the chaos log level), for a failing run. */
export function formatMemberOutputs(members: readonly { instanceId: string; output(): string }[]): string {
  return members.map((m) => `--- ${m.instanceId}'s last output:\n${m.output().slice(-REPORT_LIMITS.memberOutputChars)}\n`).join('');
}

export const REPORT_LIMITS = {
  /** Output shown per member that exited on its own. */
  exitOutputChars: 1_500,
  /** Output shown per order, inventory and payment member when an invariant is broken. */
  memberOutputChars: 2_500,
} as const;

export function formatReport(report: ChaosReport, history: History): string {
  const lines = [
    `chaos seed ${report.seed}, ${report.durationS} s${report.pgbouncer ? ', through PgBouncer' : ''}: ${report.requests} requests, ${Object.values(report.faults).reduce((a, b) => a + b, 0)} faults`,
    '',
    '  faults:',
    ...history.faults.map((f) => `    ${(f.atMs / 1000).toFixed(1).padStart(6)} s  ${f.kind.padEnd(18)} ${f.target.padEnd(12)} ${f.skipped ? `skipped: ${f.skipped}` : f.detail}`),
    '  requests (by operation and answer):',
    ...Object.entries(report.requestsByOp).map(([op, classes]) => `    ${op.padEnd(15)} ${Object.entries(classes).map(([k, n]) => `${k} ${n}`).join(', ')}`),
    `  orders: ${Object.entries(report.ordersByStatus).map(([s, n]) => `${s} ${n}`).join(', ') || 'none'}`,
    `  members that exited on their own: ${report.unexpectedExits.length === 0 ? 'none' : report.unexpectedExits.map((e) => `${e.instanceId} at ${(e.atMs / 1000).toFixed(1)} s (${e.signal ?? `code ${e.code}`})`).join(', ')}`,
    `  recovery after the load: ${(report.recoveryMs / 1000).toFixed(1)} s`,
    '',
  ];
  if (report.violations === 0) lines.push('  every invariant holds');
  else lines.push(`  ${report.violations} VIOLATION(S):`, ...report.violationList.map((v) => `    - ${v}`), '', `  replay: ${report.replay}`);
  return `${lines.join('\n')}\n`;
}
