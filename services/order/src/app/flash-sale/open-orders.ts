import { flashSale } from '@agora/contracts';
import type { Clock } from '@agora/kernel';
import type { EventBus, Logger, Subscription } from '@agora/platform';
import type { Collaborators } from '../clients.js';
import type { Orders } from '../orders.js';
import { FLASH_SALE_REQUEST_HASH } from './flash-orders.js';

/** Deliveries of a UnitTaken before it is dead-lettered: a lost one would leave units taken without an order. */
export const FLASH_SALE_ORDER_MAX_DELIVER = 50;

/** The history's word for a flash-sale order's RESERVED entry. */
export const FLASH_RESERVED_REASON = 'flash-sale units taken; awaiting payment';

/**
 * Opens the order of every ticket whose units inventory took (UnitTaken), on its buyer's shard:
 * id = the ticket id, Idempotency-Key = `flash-sale:<sale>:<ticket>`, PENDING then RESERVED, with
 * the deadline of its payment (`payBy`).
 * Idempotent on the ticket: a redelivery finds the order and moves it on only if it is still PENDING.
 */
export function subscribeFlashSaleOrders(bus: EventBus, orders: Orders, services: Collaborators, clock: Clock, logger: Logger, defaultWindowMs: number): Promise<Subscription> {
  return bus.subscribe({
    durable: 'order-flash-sale-units',
    maxDeliver: FLASH_SALE_ORDER_MAX_DELIVER,
    types: [flashSale.FLASH_SALE_EVENT_TYPES.UnitTaken],
    handler: async (event) => {
      const taken = event.payload as flashSale.UnitTaken;
      // The title is the catalog's; a catalog that does not answer costs only the title.
      const title = await services
        .variants([taken.sku])
        .then((variants) => variants[0]?.title ?? taken.sku)
        .catch(() => taken.sku);
      const total = { amount: taken.unitPrice.amount * taken.quantity, currency: taken.unitPrice.currency };
      const openedAt = clock.now();
      await orders.onShopperShard(taken.userId, async (shard) => {
        await shard.store.open({
          id: taken.ticketId,
          userId: taken.userId,
          idempotencyKey: flashSale.flashSaleOrderKey(taken.saleId, taken.ticketId),
          requestHash: FLASH_SALE_REQUEST_HASH,
          openedAt,
          // Due by the end of the sale's own window, else the shop's default, decided once: a
          // redelivery opens nothing, and a later change of the default moves no deadline.
          payBy: new Date(openedAt.getTime() + (taken.paymentWindowSeconds === undefined ? defaultWindowMs : taken.paymentWindowSeconds * 1000)),
          lines: [{ sku: taken.sku, title, quantity: taken.quantity, unitPrice: taken.unitPrice, lineTotal: total }],
          total,
          shippingAddress: undefined,
        });
        const order = await shard.store.get(taken.ticketId);
        if (order?.status === 'PENDING') await shard.store.transition(taken.ticketId, ['PENDING'], 'RESERVED', FLASH_RESERVED_REASON);
      });
      logger.debug({ orderId: taken.ticketId, saleId: taken.saleId }, 'flash-sale order opened');
    },
  });
}
