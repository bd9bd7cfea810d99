import { describe, expect, it } from 'vitest';
import { CONNECTION_BUDGET, poolMaxWithinBudget, readConnectionLimits } from '../src/index.js';
import { TEST_POSTGRES_URL, postgresBackend } from '../src/testing/index.js';

const postgres = await postgresBackend.available();

/** The connection budget `agora cluster` divides among its processes (docs/operations.md). */
describe('connection budget', () => {
  it('divides max_connections minus reserved and margin among the pools, rounding down', () => {
    // The measured failure: 100 connections, 13 processes x 10 > 100.
    const limits = { maxConnections: 100, reservedConnections: 3 };
    const { poolMax, budget } = poolMaxWithinBudget(limits, 12);
    expect(budget).toBe(100 - 3 - CONNECTION_BUDGET.marginConnections);
    expect(poolMax).toBe(Math.floor(budget / 12));
    expect(poolMax * 12 + limits.reservedConnections + CONNECTION_BUDGET.marginConnections).toBeLessThanOrEqual(limits.maxConnections);
  });

  it('refuses a cluster whose pools cannot get even the smallest share, naming the way out', () => {
    expect(() => poolMaxWithinBudget({ maxConnections: 40, reservedConnections: 3 }, 24)).toThrow(/PgBouncer/);
    expect(() => poolMaxWithinBudget({ maxConnections: 100, reservedConnections: 3 }, 0)).toThrow(/pools/);
  });

  it.runIf(postgres)('reads the limits of the real server', async () => {
    const limits = await readConnectionLimits(TEST_POSTGRES_URL);
    expect(limits.maxConnections).toBeGreaterThan(limits.reservedConnections);
    expect(limits.reservedConnections).toBeGreaterThanOrEqual(0);
  });
});
