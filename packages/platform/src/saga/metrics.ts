import type { Metrics } from '../telemetry/metrics.js';
import type { SagaStatus } from './definition.js';
import type { SagaLogEntry } from './log-writer.js';

/** Seconds: a step is a few round trips; a saga may wait minutes for an asynchronous payment. */
export const SAGA_STEP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;
export const SAGA_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900] as const;

export const SAGA_METRICS = {
  steps: 'agora_saga_step_duration_seconds',
  sagas: 'agora_saga_duration_seconds',
  /**
   * Sagas whose last entry this process remembers (to time their next step). A saga whose drive
   * ended without a final entry here (lease lost, crash of a step) is forgotten oldest first.
   */
  trackedMax: 10_000,
} as const;

/** A step's outcome as the `outcome` label: bounded by the saga log's step statuses. */
const STEP_OUTCOMES: Readonly<Record<string, string>> = { DONE: 'done', FAILED: 'failed', RETRYING: 'retried', WAITING: 'waiting' };
const SETTLED: Readonly<Partial<Record<SagaStatus, string>>> = { COMPLETED: 'completed', COMPENSATED: 'compensated', FAILED: 'failed' };

/**
 * A saga log observer that times steps and sagas (labels: saga and step names fixed in code, phase
 * run/compensate, outcome from the enums above). A step's time runs from the saga's previous entry
 * in this process (its STARTED, or the claim that resumed the saga) to the entry that ends it:
 * done, failed, retried (a failed try that will run again) or waiting (for a signal). A saga's time
 * runs from its creation to the write that settles it (completed, compensated or failed); the
 * histogram's `_count` is the count of sagas by outcome. Costs a map lookup and an observe per entry.
 */
export function sagaMetricsObserver(metrics: Metrics, now: () => number = Date.now): (entry: SagaLogEntry) => void {
  const steps = metrics.histogram(SAGA_METRICS.steps, 'Saga step durations by saga, step, phase (run, compensate) and outcome (done, failed, retried, waiting)', ['saga', 'step', 'phase', 'outcome'], SAGA_STEP_BUCKETS);
  const sagas = metrics.histogram(SAGA_METRICS.sagas, 'Saga durations from creation to settling, by saga and outcome (completed, compensated, failed)', ['saga', 'outcome'], SAGA_BUCKETS);
  const lastEntryAt = new Map<string, number>();
  return (entry) => {
    const at = now();
    const step = entry.step;
    const outcome = step ? STEP_OUTCOMES[step.status] : undefined;
    const since = lastEntryAt.get(entry.sagaId);
    if (step && outcome && since !== undefined) {
      steps.observe({ saga: entry.saga, step: step.name, phase: step.phase, outcome }, Math.max(0, at - since) / 1000);
    }
    const settled = SETTLED[entry.status];
    if (entry.durable && settled && entry.createdAt && entry.previous !== undefined && entry.previous !== entry.status) {
      sagas.observe({ saga: entry.saga, outcome: settled }, Math.max(0, at - entry.createdAt.getTime()) / 1000);
    }
    lastEntryAt.delete(entry.sagaId);
    // Done or waiting (lease given up): nothing more to time here until a claim brings it back.
    if (settled || entry.status === 'WAITING') return;
    lastEntryAt.set(entry.sagaId, at);
    if (lastEntryAt.size > SAGA_METRICS.trackedMax) {
      const oldest = lastEntryAt.keys().next().value;
      if (oldest !== undefined) lastEntryAt.delete(oldest);
    }
  };
}
