export * from './logger.js';
export * from './metrics.js';
export * from './tracing.js';
export * from './pool-metrics.js';
export * from './tracing-redis.js';
export * from './cluster-metrics.js';
