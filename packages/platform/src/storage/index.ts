export * from './storage.js';
export { PostgresStorage, CONNECTION_BUDGET, readConnectionLimits, poolMaxWithinBudget, type PostgresOptions, type ServerConnectionLimits } from './postgres.js';
export { PgliteStorage } from './pglite.js';
