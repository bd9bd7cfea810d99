export * from './bus.js';
export * from './in-memory.js';
export * from './nats.js';
export * from './outbox.js';
export * from './tracing.js';
