import { AppError, type Clock } from '@agora/kernel';
import type { inventory } from '@agora/contracts';
import { normaliseLines, refusedTransition, replayRefusal, sameLines, type Reservation, type ReservationAction, type ReservationStatus } from '../domain/reservation.js';
import type { ReservationStore, TransitionOutcome } from '../store/reservation-store.js';

export interface ReservationResult {
  /** 201 when this call made the reservation, 200 when it answers one made before. */
  created: boolean;
  reservation: inventory.Reservation;
}

/** Counts what happens to reservations (a metric in the service; nothing in tests). */
export type ReservationEvent = 'held' | 'out_of_stock' | 'committed' | 'released' | 'expired' | 'restocked';

const DONE: Record<ReservationAction, ReservationEvent> = { commit: 'committed', release: 'released', restock: 'restocked' };

/** Units of stock moved, as the `movement` label of `agora_inventory_stock_units_total`. */
export type StockMovement = 'reserve' | 'commit' | 'release' | 'restock';

function unitsOf(r: Reservation): number {
  return r.lines.reduce((sum, line) => sum + line.quantity, 0);
}

export function reservationDto(r: Reservation): inventory.Reservation {
  return { reservationId: r.id, status: r.status, expiresAt: r.expiresAt.toISOString(), lines: r.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })) };
}

/**
 * The checkout saga's side of inventory. Every call is idempotent on the reservation id (the
 * order id): a retry after a timeout or a crash answers the first outcome and never moves stock twice.
 */
export class ReservationsApp {
  constructor(
    private readonly store: ReservationStore,
    private readonly clock: Clock,
    private readonly onEvent: (event: ReservationEvent, count: number) => void = () => undefined,
    /** Units each movement took or gave back (a metric in the service). */
    private readonly onUnits: (movement: StockMovement, units: number) => void = () => undefined,
  ) {}

  async reserve(body: inventory.ReserveBody): Promise<ReservationResult> {
    const lines = normaliseLines(body.lines);
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + body.ttlSeconds * 1000);
    const outcome = await this.store.reserve(body.reservationId, lines, expiresAt, now);
    switch (outcome.kind) {
      case 'held':
        this.onEvent('held', 1);
        this.onUnits('reserve', unitsOf(outcome.reservation));
        return { created: true, reservation: reservationDto(outcome.reservation) };
      case 'short': {
        this.onEvent('out_of_stock', 1);
        const short = new Set(outcome.skus);
        const errors = body.lines.flatMap((line, i) => (short.has(line.sku) ? [{ path: `lines[${i}].sku`, message: `not enough units of ${line.sku} available` }] : []));
        throw new AppError('OUT_OF_STOCK', `Not enough stock for ${outcome.skus.join(', ')}`, { errors, extras: { skus: outcome.skus } });
      }
      case 'existing': {
        const existing = outcome.reservation;
        const refusal = replayRefusal(existing.id, existing.status);
        if (refusal) throw refusal;
        if (!sameLines(existing.lines, lines)) {
          throw new AppError('IDEMPOTENCY_MISMATCH', `Reservation ${existing.id} exists with other lines`, { extras: { reservationId: existing.id } });
        }
        return { created: false, reservation: reservationDto(existing) };
      }
    }
  }

  async get(id: string): Promise<inventory.Reservation> {
    const reservation = await this.store.get(id);
    if (!reservation) throw new AppError('NOT_FOUND', `Reservation ${id} not found`);
    return reservationDto(reservation);
  }

  /** Takes the held units out of stock for good (the order is paid). */
  commit(id: string): Promise<inventory.Reservation> {
    return this.apply(id, 'commit');
  }

  /** Gives held units back (payment declined, order abandoned). */
  release(id: string): Promise<inventory.Reservation> {
    return this.apply(id, 'release');
  }

  /** Puts committed units back on hand (a confirmed order was cancelled). */
  restock(id: string): Promise<inventory.Reservation> {
    return this.apply(id, 'restock');
  }

  private async apply(id: string, action: ReservationAction): Promise<inventory.Reservation> {
    const now = this.clock.now();
    const outcome: TransitionOutcome = action === 'release' ? await this.store.release(id, now) : await this.store.transition(id, action, now);
    if (outcome.moved) {
      this.onEvent(DONE[action], 1);
      this.onUnits(action, unitsOf(outcome.reservation));
      return reservationDto(outcome.reservation);
    }
    if (!outcome.reservation) throw new AppError('NOT_FOUND', `Reservation ${id} not found`);
    const status: ReservationStatus = outcome.reservation.status;
    const refusal = refusedTransition(action, id, status);
    if (refusal === 'already-done') return reservationDto(outcome.reservation);
    throw refusal;
  }
}
