import { EVENT_TYPES, type OrderConfirmed } from '@agora/contracts/events';
import { flashSale } from '@agora/contracts';
import type { Clock } from '@agora/kernel';
import type { EventBus, Logger, Subscription } from '@agora/platform';
import type { FlashSaleStore } from '../../store/flash-sale-store.js';
import type { SaleCounter } from './counter.js';
import type { FlashSales } from './flash-sales.js';

/**
 * Deliveries of one fact before it is dead-lettered: a ticket or a release lost to a dead letter
 * would leave units taken without an order (or never given back), so these consumers retry for
 * long (the bus's backoff grows to a minute: about 45 minutes of a database outage).
 */
export const FLASH_SALE_MAX_DELIVER = 50;

export interface FlashSaleConsumersOptions {
  bus: EventBus;
  store: FlashSaleStore;
  counter: SaleCounter;
  sales: FlashSales;
  clock: Clock;
  logger: Logger;
  /** Counted per ticket the database decided, by outcome (taken, refused, returned, paid). */
  onTicket?: (outcome: string) => void;
}

/**
 * The inventory side of a ticket's life, each handler idempotent on the ticket id (the bus
 * delivers at least once):
 * - a TicketAccepted takes the units in PostgreSQL (or refuses them) and the counter forgets the
 *   ticket as pending; a taken ticket's UnitTaken fact leaves through the outbox to the order service;
 * - an OrderReleased (an order of the sale unpaid) gives the units back, in PostgreSQL, then to the counter;
 * - an order.confirmed marks the ticket of a sale's order PAID (any other order: nothing to do).
 * A counter that fails after the database committed is corrected by the reconciler.
 */
export async function subscribeFlashSaleConsumers(options: FlashSaleConsumersOptions): Promise<Subscription[]> {
  const { bus, store, counter, sales, clock, logger } = options;
  const count = options.onTicket ?? (() => undefined);
  const tickets = await bus.subscribe({
    durable: 'inventory-flash-sale-tickets',
    maxDeliver: FLASH_SALE_MAX_DELIVER,
    types: [flashSale.FLASH_SALE_EVENT_TYPES.TicketAccepted],
    handler: async (event) => {
      const ticket = event.payload as flashSale.TicketAccepted;
      const outcome = await store.take(ticket, clock.now());
      if (outcome.kind !== 'already') count(outcome.kind);
      if (outcome.kind === 'refused') logger.warn({ ticketId: ticket.ticketId, saleId: ticket.saleId, reason: outcome.reason }, 'flash-sale ticket refused by the database');
      await counter.settle(ticket.saleId, ticket.ticketId).catch((err: unknown) => logger.warn({ err, ticketId: ticket.ticketId }, 'flash-sale counter did not settle a ticket; the reconciler will'));
    },
  });
  const releases = await bus.subscribe({
    durable: 'inventory-flash-sale-releases',
    maxDeliver: FLASH_SALE_MAX_DELIVER,
    types: [flashSale.FLASH_SALE_EVENT_TYPES.OrderReleased],
    handler: async (event) => {
      const released = event.payload as flashSale.OrderReleased;
      const ticket = await store.release(released.ticketId, released.reason);
      if (!ticket) return;
      count('returned');
      sales.unitsReturned(ticket.saleId);
      await counter.giveBack(ticket.saleId, ticket).catch((err: unknown) => logger.warn({ err, ticketId: ticket.ticketId }, 'flash-sale counter did not take units back; the reconciler will'));
    },
  });
  const paid = await bus.subscribe({
    durable: 'inventory-flash-sale-paid',
    maxDeliver: FLASH_SALE_MAX_DELIVER,
    types: [EVENT_TYPES.OrderConfirmed],
    handler: async (event) => {
      const confirmed = event.payload as OrderConfirmed;
      // Every checkout confirms an order too: only a flash-sale order has a ticket to mark (no write per checkout).
      if (confirmed.flashSale !== true) return;
      if (await store.markPaid(confirmed.orderId)) count('paid');
    },
  });
  return [tickets, releases, paid];
}
