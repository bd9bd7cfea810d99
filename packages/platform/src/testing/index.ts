export * from './backends.js';
export * from './nats.js';
