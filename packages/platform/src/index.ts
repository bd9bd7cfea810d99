export * from './storage/index.js';
export * from './http/index.js';
export * from './telemetry/index.js';
export * from './service-client/index.js';
export * from './auth/index.js';
export * from './service.js';
