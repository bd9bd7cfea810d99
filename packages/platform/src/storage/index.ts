export * from './storage.js';
export { PostgresStorage, type PostgresOptions } from './postgres.js';
export { PgliteStorage } from './pglite.js';
