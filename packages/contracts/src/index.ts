export * from './common.js';
export * as identity from './identity.js';
export * as catalog from './catalog.js';
export * as inventory from './inventory.js';
export type { TokenClaims } from './identity.js';
export * as events from './events.js';
export * as order from './order.js';
export * as cart from './cart.js';
export * as payment from './payment.js';
