import type { InventoryPort, PortCaller, flashSale, inventory } from '@agora/contracts';
import { InProcessBoundary, type Logger } from '@agora/platform';
import type { FlashSales } from './app/flash-sale/flash-sales.js';
import type { InventoryApp } from './app/inventory.js';
import type { ReservationsApp } from './app/reservations.js';

/**
 * The inventory port in process: the application objects of the reservation routes, of
 * `GET /inventory?skus=` and of the flash-sale purchase, called directly.
 * Answers what `POST /reservations[/:id/commit|release|restock]` answer (the reservation, created
 * or replayed alike) and fails with the same codes; input validation stays with the routes.
 */
export class InProcessInventoryPort implements InventoryPort {
  private readonly boundary: InProcessBoundary;

  constructor(
    private readonly reservations: ReservationsApp,
    private readonly levels: Pick<InventoryApp, 'availability'>,
    private readonly sales: Pick<FlashSales, 'purchase'>,
    logger: Logger,
  ) {
    this.boundary = new InProcessBoundary('inventory', logger);
  }

  reserve(body: inventory.ReserveBody): Promise<inventory.Reservation> {
    return this.boundary.run('reserve', async () => (await this.reservations.reserve(body)).reservation);
  }

  commit(reservationId: string): Promise<inventory.Reservation> {
    return this.boundary.run('commit', () => this.reservations.commit(reservationId));
  }

  release(reservationId: string): Promise<inventory.Reservation> {
    return this.boundary.run('release', () => this.reservations.release(reservationId));
  }

  restock(reservationId: string): Promise<inventory.Reservation> {
    return this.boundary.run('restock', () => this.reservations.restock(reservationId));
  }

  availability(skus: readonly string[]): Promise<inventory.Availability[]> {
    return this.boundary.run('availability', () => this.levels.availability([...new Set(skus)]));
  }

  purchase(caller: PortCaller, saleId: string, idempotencyKey: string, quantity: number): Promise<flashSale.Ticket> {
    return this.boundary.run('purchase', () => this.sales.purchase(caller, saleId, idempotencyKey, quantity));
  }
}
