import { describe, expect, it } from 'vitest';
import { CONNECTION_BUDGET, dividePoolBudget, poolMaxWithinBudget, readConnectionLimits } from '../src/index.js';
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

  it("dividePoolBudget: the budget's share by default; a smaller share of the server divides that; the operator's size wins, flagged when it does not fit", () => {
    const limits = { maxConnections: 100, reservedConnections: 3 };
    expect(dividePoolBudget(limits, 12)).toEqual({ poolMax: 7, source: 'budget', budget: 87, pools: 12, fits: true });
    expect(dividePoolBudget(limits, 12, { shareConnections: 48 })).toEqual({ poolMax: 4, source: 'budget', budget: 48, pools: 12, fits: true });
    // A share larger than the server's budget is the server's budget.
    expect(dividePoolBudget(limits, 12, { shareConnections: 500 })).toMatchObject({ poolMax: 7, budget: 87 });
    expect(dividePoolBudget(limits, 12, { operatorPoolMax: 5 })).toEqual({ poolMax: 5, source: 'operator', budget: 87, pools: 12, fits: true });
    expect(dividePoolBudget(limits, 12, { operatorPoolMax: 10 })).toMatchObject({ source: 'operator', fits: false });
    expect(() => dividePoolBudget(limits, 12, { shareConnections: 12 })).toThrow(/fewer than 2 each/);
  });

  it.runIf(postgres)('reads the limits of the real server', async () => {
    const limits = await readConnectionLimits(TEST_POSTGRES_URL);
    expect(limits.maxConnections).toBeGreaterThan(limits.reservedConnections);
    expect(limits.reservedConnections).toBeGreaterThanOrEqual(0);
  });
});
