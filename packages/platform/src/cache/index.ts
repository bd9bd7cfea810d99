export * from './policies.js';
export * from './ttl.js';
export * from './single-flight.js';
export * from './l2.js';
export * from './invalidation.js';
export * from './cache-metrics.js';
export * from './tiered-cache.js';
export * from './invalidation-sender.js';
