import { inventory } from '@agora/contracts';
import type { HttpApp } from '@agora/platform';
import type { ReservationsApp } from '../app/reservations.js';

const reservationBody = { 200: inventory.Reservation, 201: inventory.Reservation };

/**
 * Internal routes the order service's checkout saga calls, service to service; the gateway does
 * not expose them, so they take no caller. Each is idempotent on the reservation id.
 *
 * - `POST /reservations` 201 held (200 on a replay, same body); 409 OUT_OF_STOCK with `skus`;
 *   409 CONFLICT when the id was released or expired; 422 IDEMPOTENCY_MISMATCH for other lines.
 * - `POST /reservations/:id/commit|release|restock` 200; a replay is a 200 no-op; 409 CONFLICT
 *   for a transition the status does not allow; 404 for an unknown id (release records it instead).
 */
export function registerReservationRoutes(app: HttpApp, reservations: ReservationsApp): void {
  app.post('/reservations', { schema: { body: inventory.ReserveBody, response: reservationBody } }, async (request, reply) => {
    const result = await reservations.reserve(request.body);
    return reply.code(result.created ? 201 : 200).send(result.reservation);
  });

  app.get('/reservations/:id', { schema: { params: inventory.ReservationParams, response: reservationBody } }, async (request) =>
    reservations.get(request.params.id),
  );

  app.post('/reservations/:id/commit', { schema: { params: inventory.ReservationParams, response: reservationBody } }, async (request) =>
    reservations.commit(request.params.id),
  );

  app.post('/reservations/:id/release', { schema: { params: inventory.ReservationParams, response: reservationBody } }, async (request) =>
    reservations.release(request.params.id),
  );

  app.post('/reservations/:id/restock', { schema: { params: inventory.ReservationParams, response: reservationBody } }, async (request) =>
    reservations.restock(request.params.id),
  );
}
