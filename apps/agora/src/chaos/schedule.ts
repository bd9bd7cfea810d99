import { seededRandom, type RandomSource } from '@agora/platform';

/**
 * The seeded fault schedule of `agora chaos`: which fault, on what, when and with which
 * parameters. A pure function of (seed, duration, victims, PgBouncer or not): the same seed gives
 * the same schedule, so a failing run replays with the same faults in the same order (the load's
 * interleaving with them is the machine's, not the seed's).
 */

export const MEMBER_FAULTS = ['sigkill', 'sigterm', 'sigstop'] as const;
export const SERVER_FAULTS = ['restart-postgres', 'restart-redis', 'restart-nats', 'restart-pgbouncer'] as const;
export type MemberFaultKind = (typeof MEMBER_FAULTS)[number];
export type ServerFaultKind = (typeof SERVER_FAULTS)[number];
export type FaultKind = MemberFaultKind | ServerFaultKind;

export const SCHEDULE_LIMITS = {
  /** One fault per this many seconds of the run on average, and at least one of each kind. */
  faultSpacingS: 4,
  /** The first fault waits this long, so the load has started before anything breaks. */
  leadInMs: 1_500,
  /** A fault starts anywhere in the first part of its slot. */
  slotJitter: 0.5,
  /** A restarted server stays down this long. */
  serverDownMs: { min: 200, max: 2_000 },
  /** A killed member is started again after this long (a supervisor's backoff). */
  respawnAfterMs: { min: 250, max: 2_000 },
  /** A SIGSTOPped member stays stopped this long past its lease. */
  pastLeaseMs: { min: 1_000, max: 3_000 },
} as const;

export interface MemberFault {
  kind: MemberFaultKind;
  /** Milliseconds from the start of the load. */
  atMs: number;
  target: string;
  /** sigkill/sigterm: how long until it is started again; sigstop: how long until SIGCONT. */
  holdMs: number;
}

export interface ServerFault {
  kind: ServerFaultKind;
  atMs: number;
  target: 'postgres' | 'redis' | 'nats' | 'pgbouncer';
  /** How long it stays down. */
  holdMs: number;
  /** PostgreSQL: `immediate` is a crash (WAL replay); Redis/NATS: SIGKILL or SIGTERM. */
  how: 'fast' | 'immediate' | 'SIGTERM' | 'SIGKILL';
}

export type Fault = MemberFault | ServerFault;

export interface ScheduleInput {
  seed: number;
  durationMs: number;
  /** Members that may be signalled, e.g. order-1, order-2, ... (sorted here, so the order given does not matter). */
  victims: readonly string[];
  pgbouncer: boolean;
  /** The lease a SIGSTOPped member must outlast (the saga lease). */
  leaseMs: number;
}

function between(random: RandomSource, range: { min: number; max: number }): number {
  return Math.round(range.min + random() * (range.max - range.min));
}

function pick<T>(random: RandomSource, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function shuffled<T>(random: RandomSource, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** The kinds a run uses: PgBouncer's restart only when there is one. */
export function faultKinds(pgbouncer: boolean): FaultKind[] {
  return [...MEMBER_FAULTS, ...SERVER_FAULTS.filter((k) => pgbouncer || k !== 'restart-pgbouncer')];
}

/**
 * The faults, in time order. The kinds are dealt in shuffled rounds (every kind once per round),
 * so even a short run has each kind; each fault starts in its own slot of the run.
 */
export function buildSchedule(input: ScheduleInput): Fault[] {
  if (!Number.isInteger(input.seed)) throw new Error(`the seed must be an integer, got ${input.seed}`);
  if (input.victims.length === 0) throw new Error('no member to signal');
  const random = seededRandom(input.seed);
  const kinds = faultKinds(input.pgbouncer);
  const count = Math.max(kinds.length, Math.floor(input.durationMs / 1000 / SCHEDULE_LIMITS.faultSpacingS));
  const dealt: FaultKind[] = [];
  while (dealt.length < count) dealt.push(...shuffled(random, kinds));
  const victims = [...input.victims].sort();
  const usable = Math.max(0, input.durationMs - SCHEDULE_LIMITS.leadInMs);
  const slotMs = usable / count;
  return dealt.slice(0, count).map((kind, i): Fault => {
    const atMs = Math.round(SCHEDULE_LIMITS.leadInMs + i * slotMs + random() * slotMs * SCHEDULE_LIMITS.slotJitter);
    switch (kind) {
      case 'sigkill':
      case 'sigterm':
        return { kind, atMs, target: pick(random, victims), holdMs: between(random, SCHEDULE_LIMITS.respawnAfterMs) };
      case 'sigstop':
        return { kind, atMs, target: pick(random, victims), holdMs: input.leaseMs + between(random, SCHEDULE_LIMITS.pastLeaseMs) };
      case 'restart-postgres':
        return { kind, atMs, target: 'postgres', holdMs: between(random, SCHEDULE_LIMITS.serverDownMs), how: random() < 0.5 ? 'fast' : 'immediate' };
      case 'restart-redis':
        return { kind, atMs, target: 'redis', holdMs: between(random, SCHEDULE_LIMITS.serverDownMs), how: random() < 0.5 ? 'SIGTERM' : 'SIGKILL' };
      case 'restart-nats':
        return { kind, atMs, target: 'nats', holdMs: between(random, SCHEDULE_LIMITS.serverDownMs), how: random() < 0.5 ? 'SIGTERM' : 'SIGKILL' };
      case 'restart-pgbouncer':
        return { kind, atMs, target: 'pgbouncer', holdMs: between(random, SCHEDULE_LIMITS.serverDownMs), how: 'SIGTERM' };
    }
  });
}
