export * from './endpoint.js';
export * from './health.js';
export * from './strategies.js';
export * from './balancer.js';
export * from './config.js';
