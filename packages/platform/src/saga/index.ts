export {
  defineSaga,
  SagaAbort,
  WaitRequest,
  SAGA_STATUSES,
  SAGA_LIMITS,
  DEFAULT_RUN_RETRY,
  DEFAULT_COMPENSATE_RETRY,
  DEFAULT_TRANSIENT_RETRY,
  type TransientRetryPolicy,
  type SagaStatus,
  type StepPhase,
  type StepStatus,
  type SagaRetryPolicy,
  type SagaFailure,
  type SagaOutcome,
  type StepContext,
  type SignalContext,
  type CompensationContext,
  type FinishContext,
  type SagaStep,
  type SagaDefinition,
  type StepLogging,
  type StepRef,
  STEP_LOGGING,
  defineStep,
} from './definition.js';
export {
  SagaOrchestrator,
  SagaLeaseLost,
  SAGA_DEFAULTS,
  type SagaHandle,
  type SagaOrchestratorOptions,
  type SagaLogEntry,
} from './orchestrator.js';
export { sagaTables } from './tables.js';
export { SagaParked } from './transient.js';
export type { SagaState, StepRow as SagaStepRow } from './log.js';
export { sagaMetricsObserver, SAGA_METRICS } from './metrics.js';
