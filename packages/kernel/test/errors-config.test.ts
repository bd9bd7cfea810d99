import { describe, expect, it } from 'vitest';
import { AppError, ConfigError, EnvReader, ERROR_STATUS, fromProblem, isUuidV7, newId, toProblem } from '../src/index.js';

describe('errors', () => {
  it('maps every code to one status and renders problem+json', () => {
    const problem = toProblem(new AppError('OUT_OF_STOCK', 'sku-1 is out of stock', { extras: { order: { id: 'o1' } } }));
    expect(problem).toMatchObject({ status: 409, code: 'OUT_OF_STOCK', title: 'Out of stock', detail: 'sku-1 is out of stock', order: { id: 'o1' } });
    expect(problem.type).toMatch(/out-of-stock$/);
    for (const [code, status] of Object.entries(ERROR_STATUS)) expect(status, code).toBeGreaterThanOrEqual(400);
  });

  it('hides unknown errors behind a 500 without leaking the message', () => {
    const problem = toProblem(new Error('password=hunter2 leaked'));
    expect(problem.status).toBe(500);
    expect(JSON.stringify(problem)).not.toContain('hunter2');
  });

  it('round-trips a problem back into the typed error', () => {
    const original = new AppError('VALIDATION_FAILED', 'bad', { errors: [{ path: 'email', message: 'is required' }] });
    const again = fromProblem(toProblem(original));
    expect(again.code).toBe('VALIDATION_FAILED');
    expect(again.errors).toEqual([{ path: 'email', message: 'is required' }]);
  });
});

describe('EnvReader', () => {
  it('validates and names the variable', () => {
    const env = new EnvReader({ PORT: 'eighty', LIMIT: '5', FLAG: 'maybe', URL: 'http://x' });
    expect(() => env.int('PORT', 1)).toThrow(ConfigError);
    expect(() => env.int('PORT', 1)).toThrow(/^PORT: must be an integer/);
    expect(() => env.int('LIMIT', 1, { max: 3 })).toThrow(/LIMIT: must be <= 3/);
    expect(() => env.bool('FLAG', true)).toThrow(/FLAG/);
    expect(() => env.url('URL', ['postgres:'])).toThrow(/URL: must use postgres:/);
    expect(env.int('MISSING', 7)).toBe(7);
  });
});

describe('ids', () => {
  it('makes time-ordered UUIDv7s', () => {
    const ids = Array.from({ length: 100 }, () => newId());
    expect(ids.every(isUuidV7)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
  });
});

describe('ids made in a burst', () => {
  it('stay unique and in order within one millisecond, across many refills of the random pool', () => {
    const ids = Array.from({ length: 5_000 }, () => newId());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every(isUuidV7)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
  });
});
