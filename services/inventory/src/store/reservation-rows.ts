import { asc, eq, sql, type SQL } from 'drizzle-orm';
import type { Executor } from '@agora/platform';
import { sortBySku, type Reservation } from '../domain/reservation.js';
import { reservationLines, reservations } from './schema.js';

/** What the single path and the batch path both answer for a reserve and a transition. */
export type ReserveOutcome =
  | { kind: 'held'; reservation: Reservation }
  /** The id was used before: the reservation as it is now; nothing was reserved this time. */
  | { kind: 'existing'; reservation: Reservation }
  /** Nothing was reserved: these SKUs (sorted) had fewer units available than asked, or no stock row. */
  | { kind: 'short'; skus: string[] };

export type TransitionOutcome = { moved: true; reservation: Reservation } | { moved: false; reservation: Reservation | undefined };

/** Timestamps come from the application's clock, never the database's `now()`, so tests can move time. */
export const at = (date: Date): SQL => sql`${date.toISOString()}::timestamptz`;

/** A reservation and its lines (sorted by SKU) as `executor` sees them; undefined when there is none. */
export async function loadReservation(executor: Executor, id: string): Promise<Reservation | undefined> {
  const [row] = await executor.select().from(reservations).where(eq(reservations.id, id)).limit(1);
  if (!row) return undefined;
  const lines = await executor
    .select({ sku: reservationLines.sku, quantity: reservationLines.quantity })
    .from(reservationLines)
    .where(eq(reservationLines.reservationId, id))
    .orderBy(asc(reservationLines.sku));
  return { id: row.id, status: row.status, expiresAt: row.expiresAt, lines: sortBySku(lines) };
}
