import { writeSync } from 'node:fs';
import { ConfigError } from '@agora/kernel';
import { SAGA_STATUSES, type SagaDefinition, type SagaLogEntry, type SagaStatus } from '@agora/platform';
import type { OrderModuleOptions } from '@agora/order';

/**
 * TEST-ONLY fault injection: crash the process at one exact point of a saga, so chaos tests can
 * prove that a restart resumes or compensates it (test/chaos/checkout-crash.test.ts). Off unless
 * `AGORA_FAULT_KILL_AT` is set; never set it in production. It lives in the composition root, not
 * in the order service: the service only offers a saga-log observer hook, and compose.ts plugs
 * this in (`orderSagaFaults`).
 *
 *   AGORA_FAULT_KILL_AT=<saga>:<step>:<phase>:<status>[:<sagaStatus>]
 *   e.g. checkout:reserveStock:run:STARTED      checkout:capturePayment:run:DONE
 *        checkout:reserveStock:compensate:STARTED
 *        checkout:authorizePayment:run:WAITING:RUNNING   (the resumed run, not the pause)
 *
 * The fields are those of the orchestrator's log entries (`SagaLogEntry`), which `onLog` reports
 * synchronously right after each write of the saga log has COMMITTED (`durable`), and at the
 * points a replayed step passes without writing anything. So:
 * - `run:STARTED` kills before the step's side effect; for a bracketed step, after "started" is
 *   durable. The restart must run it again (at least once, idempotent);
 * - `run:DONE` kills after the step's effect: for a replayed step (the checkout's remote steps)
 *   "after effect k, before any checkpoint", so the restart replays every step from the last
 *   checkpoint and each answers "already done"; for a local step (confirm), after its commit;
 * - `run:WAITING` first fires when the step pauses for a signal (saga WAITING, lease released);
 *   it is written again (saga RUNNING) when the signal resumes the step, before `onSignal`: add
 *   `:RUNNING` / `:WAITING` (the saga's status after the write) to pick one;
 * - `compensate:STARTED|DONE`, `run:FAILED`, `run|compensate:RETRYING` likewise.
 *
 * The first entry that matches kills the process with SIGKILL on the spot: no handler runs,
 * nothing is flushed or closed, in-flight requests see a reset connection — a real crash. One
 * line naming the point is written synchronously to stderr first, so a test can tell the planned
 * crash from any other death.
 */
export const FAULT_KILL_VARIABLE = 'AGORA_FAULT_KILL_AT';

const PHASES = ['run', 'compensate'] as const;
const ENTRY_STATUSES = ['STARTED', 'WAITING', 'DONE', 'FAILED', 'RETRYING'] as const;
const NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;

type EntryStep = NonNullable<SagaLogEntry['step']>;

export interface KillPoint {
  saga: string;
  step: string;
  phase: EntryStep['phase'];
  status: EntryStep['status'];
  /** Only entries after which the saga has this status. */
  sagaStatus?: SagaStatus;
  /** As configured, for messages. */
  text: string;
}

const FORMAT = `<saga>:<step>:<phase>:<status>[:<sagaStatus>], phase ${PHASES.join('|')}, status ${ENTRY_STATUSES.join('|')}, e.g. checkout:reserveStock:run:STARTED`;

/** Parses the variable (undefined when unset); a malformed value is a ConfigError naming it. */
export function parseKillPoint(raw: string | undefined): KillPoint | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const text = raw.trim();
  const fields = text.split(':');
  const bad = (why: string): ConfigError => new ConfigError(FAULT_KILL_VARIABLE, `${why}; expected ${FORMAT}, got "${text}"`);
  if (fields.length !== 4 && fields.length !== 5) throw bad('needs 4 or 5 fields separated by ":"');
  const [saga = '', step = '', phase = '', status = '', sagaStatus] = fields;
  if (!NAME.test(saga)) throw bad('saga is not a saga name');
  if (!NAME.test(step)) throw bad('step is not a step name');
  if (!(PHASES as readonly string[]).includes(phase)) throw bad(`phase must be one of ${PHASES.join(', ')}`);
  if (!(ENTRY_STATUSES as readonly string[]).includes(status)) throw bad(`status must be one of ${ENTRY_STATUSES.join(', ')}`);
  if (sagaStatus !== undefined && !(SAGA_STATUSES as readonly string[]).includes(sagaStatus)) {
    throw bad(`saga status must be one of ${SAGA_STATUSES.join(', ')}`);
  }
  return {
    saga,
    step,
    phase: phase as KillPoint['phase'],
    status: status as KillPoint['status'],
    ...(sagaStatus === undefined ? {} : { sagaStatus: sagaStatus as SagaStatus }),
    text,
  };
}

/** A point naming a saga or step that does not exist would never fire: refuse it at start. */
export function assertKillPointExists(point: KillPoint, definitions: readonly Pick<SagaDefinition<never>, 'name' | 'steps'>[]): void {
  const definition = definitions.find((d) => d.name === point.saga);
  if (!definition) {
    throw new ConfigError(FAULT_KILL_VARIABLE, `no saga "${point.saga}" (known: ${definitions.map((d) => d.name).join(', ')})`);
  }
  if (!definition.steps.some((s) => s.name === point.step)) {
    throw new ConfigError(FAULT_KILL_VARIABLE, `saga ${point.saga} has no step "${point.step}" (steps: ${definition.steps.map((s) => s.name).join(', ')})`);
  }
  if (point.phase === 'compensate' && !definition.steps.find((s) => s.name === point.step)?.compensate) {
    throw new ConfigError(FAULT_KILL_VARIABLE, `step ${point.saga}:${point.step} has no compensation`);
  }
}

export function matchesKillPoint(point: KillPoint, entry: SagaLogEntry): boolean {
  const step = entry.step;
  return (
    step !== undefined &&
    entry.saga === point.saga &&
    step.name === point.step &&
    step.phase === point.phase &&
    step.status === point.status &&
    (point.sagaStatus === undefined || entry.status === point.sagaStatus)
  );
}

function crash(point: KillPoint, entry: SagaLogEntry): void {
  try {
    writeSync(2, `agora: fault injection ${FAULT_KILL_VARIABLE}=${point.text}: SIGKILL after saga ${entry.sagaId} logged it\n`);
  } catch {
    // stderr closed: crash anyway
  }
  process.kill(process.pid, 'SIGKILL');
}

/** The `onLog` observer that kills the process at the first entry matching `point`. */
export function killAtObserver(point: KillPoint, kill: (point: KillPoint, entry: SagaLogEntry) => void = crash): (entry: SagaLogEntry) => void {
  return (entry) => {
    if (matchesKillPoint(point, entry)) kill(point, entry);
  };
}

/**
 * The order service's saga-log hook (compose.ts): the kill point from the environment, checked
 * against the service's sagas at start (a point that would never fire is a configuration error);
 * nothing when the variable is unset.
 */
export const orderSagaFaults: NonNullable<OrderModuleOptions['sagaLogObserver']> = ({ env, logger }, sagas) => {
  const point = parseKillPoint(env.string(FAULT_KILL_VARIABLE));
  if (!point) return undefined;
  assertKillPointExists(point, sagas);
  logger.warn({ [FAULT_KILL_VARIABLE]: point.text }, 'TEST-ONLY fault injection is on: this process kills itself when the saga log reaches that point');
  return killAtObserver(point);
};
