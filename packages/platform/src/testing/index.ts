export * from './backends.js';
export * from './nats.js';
export * from './redis.js';
export * from './ports.js';
export * from './callers.js';
export * from './pgbouncer.js';
