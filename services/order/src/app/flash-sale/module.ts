import type { Clock } from '@agora/kernel';
import type { EventBus, Logger, Metrics, Subscription } from '@agora/platform';
import type { EnvReader } from '@agora/kernel';
import type { Collaborators } from '../clients.js';
import type { Orders } from '../orders.js';
import { FlashOrderExpiry } from './expiry-sweeper.js';
import { FLASH_ORDER_DEFAULTS } from './flash-orders.js';
import { subscribeFlashSaleOrders } from './open-orders.js';
import { FlashSalePayments } from './pay.js';

/**
 * Environment of flash-sale orders (validated at start; a bad value names its variable):
 * - AGORA_FLASH_SALE_PAYMENT_WINDOW_MS: how long a buyer has to pay, from the order's opening;
 * - AGORA_FLASH_SALE_SWEEP_MS: how often each instance expires unpaid orders.
 */
export const FLASH_ORDER_ENV = {
  paymentWindow: 'AGORA_FLASH_SALE_PAYMENT_WINDOW_MS',
  sweepInterval: 'AGORA_FLASH_SALE_SWEEP_MS',
} as const;

export interface FlashSaleOrders {
  payments: FlashSalePayments;
  expiry: FlashOrderExpiry;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The order side of flash sales: tickets become orders, orders are paid or expire (docs/flash-sales.md). */
export function createFlashSaleOrders(deps: { env: EnvReader; bus: EventBus; clock: Clock; logger: Logger; metrics: Metrics }, orders: Orders, services: Collaborators): FlashSaleOrders {
  const paymentWindowMs = deps.env.int(FLASH_ORDER_ENV.paymentWindow, FLASH_ORDER_DEFAULTS.paymentWindowMs, { min: 1_000, max: 7 * 24 * 3_600_000 });
  const sweepMs = deps.env.int(FLASH_ORDER_ENV.sweepInterval, FLASH_ORDER_DEFAULTS.sweepIntervalMs, { min: 50, max: 3_600_000 });
  const expiredTotal = deps.metrics.counter('agora_flash_sale_orders_expired_total', 'Flash-sale orders expired unpaid', []);
  const payments = new FlashSalePayments(orders, services, deps.clock, deps.logger, paymentWindowMs);
  const expiry = new FlashOrderExpiry(orders, deps.clock, deps.logger, paymentWindowMs, (n) => expiredTotal.inc(n));
  let subscription: Subscription | undefined;
  return {
    payments,
    expiry,
    async start() {
      subscription = await subscribeFlashSaleOrders(deps.bus, orders, services, deps.clock, deps.logger, paymentWindowMs);
      expiry.start(sweepMs);
    },
    async stop() {
      await subscription?.stop();
      await expiry.stop();
    },
  };
}
