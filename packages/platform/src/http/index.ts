export * from './app.js';
export * from './health.js';
export * from './validation.js';
export * from './caller.js';
export * from './caller-assertion.js';
export * from './tracing.js';
