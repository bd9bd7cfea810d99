export * from './storage.js';
export { PostgresStorage, CONNECTION_BUDGET, readConnectionLimits, poolMaxWithinBudget, dividePoolBudget, type PoolDivision, type PoolDivisionOptions, type PostgresOptions, type ServerConnectionLimits } from './postgres.js';
export { PgliteStorage } from './pglite.js';
