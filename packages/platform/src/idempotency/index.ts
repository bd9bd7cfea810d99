export { hashRequest } from './hash.js';
export { IdempotencyStore, IDEMPOTENCY_DEFAULTS, type IdempotencyStoreOptions, type IdempotentResponse, type IdempotentResult } from './store.js';
export { idempotencyTable } from './tables.js';
