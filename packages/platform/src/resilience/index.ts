export * from './config.js';
export * from './endpoints.js';
export * from './failures.js';
export * from './faults.js';
export * from './breaker.js';
export * from './metrics.js';
export * from './policy.js';
