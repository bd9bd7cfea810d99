export * from './money.js';
export * from './ids.js';
export * from './clock.js';
export * from './errors.js';
export * from './config.js';
export * from './limits.js';
