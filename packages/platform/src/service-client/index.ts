export * from './transport.js';
export * from './in-process.js';
export * from './client.js';
export * from './http.js';
export * from './http-ports.js';
export * from './in-process-port.js';
export * from './asserting.js';
export * from './tracing.js';
