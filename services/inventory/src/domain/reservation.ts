import { AppError, validationError } from '@agora/kernel';
import type { inventory } from '@agora/contracts';

export type ReservationStatus = inventory.ReservationStatus;

export interface ReservationLine {
  sku: string;
  quantity: number;
}

export interface Reservation {
  id: string;
  status: ReservationStatus;
  expiresAt: Date;
  /** Sorted by SKU. */
  lines: ReservationLine[];
}

/** What the saga asks of a reservation after it is made. */
export type ReservationAction = 'commit' | 'release' | 'restock';

/**
 * Each action moves exactly one status to one other. Any other status is either the action's own
 * result (a replay: answered as a no-op) or a conflict.
 */
export const TRANSITIONS: Record<ReservationAction, { from: ReservationStatus; to: ReservationStatus; alreadyDone: readonly ReservationStatus[] }> = {
  commit: { from: 'HELD', to: 'COMMITTED', alreadyDone: ['COMMITTED'] },
  // An expired reservation has given its stock back already: releasing it is done, not a conflict.
  release: { from: 'HELD', to: 'RELEASED', alreadyDone: ['RELEASED', 'EXPIRED'] },
  restock: { from: 'COMMITTED', to: 'RESTOCKED', alreadyDone: ['RESTOCKED'] },
};

const HINTS: Partial<Record<`${ReservationAction}:${ReservationStatus}`, string>> = {
  'release:COMMITTED': 'it is committed; restock it instead',
  'release:RESTOCKED': 'it was committed and restocked already',
  'restock:HELD': 'it is not committed; release it instead',
  'commit:EXPIRED': 'it expired and its stock went back on sale',
  'commit:RELEASED': 'it was released and its stock went back on sale',
};

/**
 * The outcome of an action on a reservation the guarded update did not move: a replay answers
 * the reservation as it is, anything else is a 409 naming the status it is in.
 */
export function refusedTransition(action: ReservationAction, id: string, current: ReservationStatus): 'already-done' | AppError {
  const rule = TRANSITIONS[action];
  if (rule.alreadyDone.includes(current)) return 'already-done';
  const hint = HINTS[`${action}:${current}`];
  return new AppError('CONFLICT', `Cannot ${action} reservation ${id}: it is ${current}${hint ? ` (${hint})` : ''}`, {
    extras: { reservationId: id, status: current },
  });
}

/** Reserving again under an id that already ended (released, expired) must not hold stock again. */
export function replayRefusal(id: string, status: ReservationStatus): AppError | undefined {
  if (status === 'RELEASED' || status === 'EXPIRED') {
    return new AppError('CONFLICT', `Reservation ${id} is ${status}; a new reservation needs a new id`, { extras: { reservationId: id, status } });
  }
  return undefined;
}

/** Distinct SKUs, sorted: every transaction touches stock rows in this order, so none deadlock. */
export function normaliseLines(lines: readonly ReservationLine[]): ReservationLine[] {
  const seen = new Map<string, number>();
  const errors: { path: string; message: string }[] = [];
  lines.forEach((line, i) => {
    const first = seen.get(line.sku);
    if (first !== undefined) errors.push({ path: `lines[${i}].sku`, message: `repeats lines[${first}].sku; name each SKU once` });
    else seen.set(line.sku, i);
  });
  if (errors.length > 0) throw validationError(errors);
  return sortBySku(lines.map((l) => ({ sku: l.sku, quantity: l.quantity })));
}

export function sortBySku<T extends { sku: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
}

/** Same SKUs with the same quantities (both sorted by SKU). */
export function sameLines(a: readonly ReservationLine[], b: readonly ReservationLine[]): boolean {
  return a.length === b.length && a.every((line, i) => line.sku === b[i]?.sku && line.quantity === b[i]?.quantity);
}

/** Sums quantities per SKU across reservations (the sweeper gives back many at once). */
export function totalPerSku(lines: readonly ReservationLine[]): ReservationLine[] {
  const totals = new Map<string, number>();
  for (const line of lines) totals.set(line.sku, (totals.get(line.sku) ?? 0) + line.quantity);
  return sortBySku([...totals].map(([sku, quantity]) => ({ sku, quantity })));
}
