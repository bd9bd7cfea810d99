export * from './lock.js';
export * from './lease.js';
export * from './in-memory.js';
export * from './redis.js';
export * from './postgres.js';
export * from './fence.js';
