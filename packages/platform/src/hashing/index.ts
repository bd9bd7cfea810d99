export * from './hash.js';
export * from './ring.js';
export * from './rendezvous.js';
export * from './jump.js';
