export * from './config.js';
export * from './compose.js';
export * from './seed.js';
export * from './nginx.js';
export * from './chaos/invariants.js';
export * from './backup/index.js';
export { missingChaosBinaries } from './chaos/servers.js';
