import { describe, expect, it } from 'vitest';
import { BrokenCircuitError, BulkheadRejectedError, TaskCancelledError } from 'cockatiel';
import { AppError, fromProblem, toProblem } from '@agora/kernel';
import { TRANSIENT_SQLSTATES, classifyFault, faultLabel, unavailableFor } from '../src/index.js';

/** One case per kind the classifier promises (resilience/faults.ts), shaped as the drivers raise them. */

const pgError = (code: string, message = 'server said no') => Object.assign(new Error(message), { code, severity: 'ERROR' });
/** drizzle wraps the driver's error: the SQLSTATE is on the cause. */
const drizzleWrapped = (cause: unknown) => new Error('Failed query: select 1', { cause });
const netError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -111, syscall: 'connect' });

describe('classifyFault', () => {
  const transient: [string, unknown][] = [
    ['too_many_connections (53300)', pgError('53300', 'sorry, too many clients already')],
    ['too many connections for a role (53300), wrapped by drizzle', drizzleWrapped(pgError('53300', 'too many connections for role "x"'))],
    ['cannot_connect_now (57P03)', pgError('57P03', 'the database system is starting up')],
    ['admin_shutdown (57P01)', pgError('57P01', 'terminating connection due to administrator command')],
    ['serialization_failure (40001)', pgError('40001')],
    ['deadlock_detected (40P01)', drizzleWrapped(pgError('40P01', 'deadlock detected'))],
    ['lock_not_available (55P03)', pgError('55P03', 'canceling statement due to lock timeout')],
    ['query_canceled / statement timeout (57014)', pgError('57014', 'canceling statement due to statement timeout')],
    ['connection_failure (08006)', pgError('08006')],
    ['connection refused', netError('ECONNREFUSED')],
    ['connection reset', netError('ECONNRESET')],
    ['pool acquire timeout (pg-pool)', new Error('timeout exceeded when trying to connect')],
    ['connection lost (pg)', new Error('Connection terminated unexpectedly')],
    ['broker unavailable (NATS)', Object.assign(new Error('CONNECTION_REFUSED'), { code: 'CONNECTION_REFUSED' })],
    ['broker timeout (NATS)', Object.assign(new Error('timeout'), { name: 'TimeoutError' })],
    ["a peer's 503 (problem)", fromProblem(toProblem(new AppError('UNAVAILABLE', 'payment is busy')))],
    ["a peer's 429 (a limit that refills)", new AppError('RATE_LIMITED', 'slow down', { retryAfterSeconds: 1 })],
    ['a call timeout (cockatiel)', new TaskCancelledError('Operation timed out after 10ms')],
    ['an open breaker', new BrokenCircuitError()],
    ['a full bulkhead', new BulkheadRejectedError(1, 1)],
  ];
  for (const [name, error] of transient) {
    it(`transient: ${name}`, () => expect(classifyFault(error)).toBe('transient'));
  }

  const business: [string, unknown][] = [
    ['declined (402)', new AppError('PAYMENT_DECLINED', 'card declined')],
    ['out of stock (409)', fromProblem(toProblem(new AppError('OUT_OF_STOCK', 'no units')))],
    ['conflict (409)', new AppError('CONFLICT', 'already cancelled')],
    ['not found (404)', new AppError('NOT_FOUND', 'no such order')],
  ];
  for (const [name, error] of business) {
    it(`business: ${name}`, () => expect(classifyFault(error)).toBe('business'));
  }

  const unknown: [string, unknown][] = [
    ['a bug', new TypeError('x is undefined')],
    ['a unique violation (23505): a store decides what it means', pgError('23505')],
    ["a peer's 500", fromProblem(toProblem(new Error('boom')))],
    ['a thrown string', 'nope'],
  ];
  for (const [name, error] of unknown) {
    it(`unknown: ${name}`, () => expect(classifyFault(error)).toBe('unknown'));
  }

  it('every SQLSTATE in the table is transient, and named in labels', () => {
    for (const [code, label] of Object.entries(TRANSIENT_SQLSTATES)) {
      expect(classifyFault(pgError(code))).toBe('transient');
      expect(faultLabel(drizzleWrapped(pgError(code)))).toBe(label);
    }
  });

  it('unavailableFor: a transient fault becomes 503 with Retry-After, naming the fault and not the SQL', () => {
    const answer = unavailableFor(drizzleWrapped(pgError('53300', 'sorry, too many clients already')), 'payment');
    expect(answer?.status).toBe(503);
    expect(answer?.retryAfterSeconds).toBeGreaterThan(0);
    expect(answer?.message).toContain('too_many_connections');
    expect(answer?.message).not.toContain('select');
    expect(unavailableFor(new TypeError('bug'), 'payment')).toBeUndefined();
    expect(unavailableFor(new AppError('CONFLICT', 'no'), 'payment')).toBeUndefined();
  });
});
