export * from './scheduler.js';
export * from './instance.js';
export * from './registry.js';
export * from './in-memory.js';
export * from './redis.js';
export * from './failure-detector.js';
export * from './watcher.js';
export * from './config.js';
