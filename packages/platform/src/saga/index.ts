export {
  defineSaga,
  SagaAbort,
  WaitRequest,
  SAGA_STATUSES,
  TERMINAL_SAGA_STATUSES,
  SAGA_LIMITS,
  DEFAULT_RUN_RETRY,
  DEFAULT_COMPENSATE_RETRY,
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
} from './definition.js';
export {
  SagaOrchestrator,
  SagaLeaseLost,
  SAGA_DEFAULTS,
  isTerminalSagaStatus,
  type SagaOrchestratorOptions,
  type SagaLogEntry,
} from './orchestrator.js';
export { sagaTables } from './tables.js';
export type { SagaState, StepRow as SagaStepRow } from './log.js';
