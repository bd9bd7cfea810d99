import { sql, type SQL } from 'drizzle-orm';
import { SAGA_STATUSES, type SagaFailure, type SagaOutcome, type SagaStatus, type StepPhase, type StepStatus } from './definition.js';

/**
 * Rows of the saga log as the orchestrator reads them, and the little SQL helpers it writes
 * them with. Tables are named through the service's schema (see tables.ts for the DDL).
 */

export interface SagaState {
  results: Record<string, unknown>;
  failure?: SagaFailure;
  compensationError?: { step: string; message: string };
  /** Set while WAITING: the step that waits for a signal. */
  waitingFor?: string;
}

export interface SagaRow {
  id: string;
  name: string;
  status: SagaStatus;
  input: unknown;
  state: SagaState;
  signals: Record<string, unknown>;
  currentStep: number;
  attempts: number;
  leaseOwner: string | null;
  leaseUntil: Date | null;
  waitUntil: Date | null;
  finishedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface StepRow {
  step: string;
  phase: StepPhase;
  position: number;
  status: StepStatus;
  attempts: number;
  result: unknown;
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

/** A raw row as both drivers return it (snake_case; timestamps as Date, jsonb parsed). */
export type RawRow = Record<string, unknown>;

export function sagaRowOf(raw: RawRow): SagaRow {
  const status = raw.status as SagaStatus;
  if (!SAGA_STATUSES.includes(status)) throw new Error(`saga log: unknown status ${String(raw.status)}`);
  const state = (raw.state ?? {}) as Partial<SagaState>;
  return {
    id: String(raw.id),
    name: String(raw.name),
    status,
    input: raw.input,
    state: { ...state, results: state.results ?? {} },
    signals: (raw.signals ?? {}) as Record<string, unknown>,
    currentStep: Number(raw.current_step),
    attempts: Number(raw.attempts),
    leaseOwner: raw.lease_owner === null ? null : String(raw.lease_owner),
    leaseUntil: dateOrNull(raw.lease_until),
    waitUntil: dateOrNull(raw.wait_until),
    finishedAt: dateOrNull(raw.finished_at),
    createdAt: dateOf(raw.created_at),
    updatedAt: dateOf(raw.updated_at),
  };
}

export function stepRowOf(raw: RawRow): StepRow {
  return {
    step: String(raw.step),
    phase: raw.phase as StepPhase,
    position: Number(raw.position),
    status: raw.status as StepStatus,
    attempts: Number(raw.attempts),
    result: raw.result ?? undefined,
    error: raw.error === null || raw.error === undefined ? null : String(raw.error),
    startedAt: dateOf(raw.started_at),
    finishedAt: dateOrNull(raw.finished_at),
  };
}

export function outcomeOf<I>(row: SagaRow): SagaOutcome<I> {
  const outcome: SagaOutcome<I> = {
    sagaId: row.id,
    name: row.name,
    status: row.status,
    input: row.input as I,
    results: row.state.results,
    finished: row.finishedAt !== null,
  };
  if (row.state.failure) outcome.failure = row.state.failure;
  if (row.state.compensationError) outcome.compensationError = row.state.compensationError;
  if (row.status === 'WAITING' && row.state.waitingFor !== undefined) {
    outcome.waitingFor = row.state.waitingFor;
    if (row.waitUntil) outcome.waitUntil = row.waitUntil;
  }
  return outcome;
}

function dateOf(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'string' || typeof value === 'number') return new Date(value);
  throw new Error(`saga log: expected a timestamp, got ${typeof value}`);
}

function dateOrNull(value: unknown): Date | null {
  return value === null || value === undefined ? null : dateOf(value);
}

/** A timestamp parameter; every time comes from the injected clock, never the database's `now()`. */
export function ts(date: Date): SQL {
  return sql`${date.toISOString()}::timestamptz`;
}

/** Results, inputs and signals are stored as JSON: what is written is what a later reader gets. */
export function toJson(value: unknown): unknown {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('value is not JSON-serializable');
  return JSON.parse(text) as unknown;
}

export function jsonb(value: unknown): SQL {
  return sql`${JSON.stringify(toJson(value))}::jsonb`;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

export function schemaTable(schema: string, table: string): SQL {
  if (!IDENTIFIER.test(schema)) throw new Error(`schema must be a lowercase identifier, got "${schema}"`);
  return sql`${sql.identifier(schema)}.${sql.identifier(table)}`;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 2_000);
  return String(err).slice(0, 2_000);
}
