import type { SimProcess } from '@agora/platform';
import type { ReservationsApp, ReserveOutcome, TransitionOutcome } from '@agora/inventory';
import type { SimBug } from './bugs.js';

type ReservationStatus = 'HELD' | 'COMMITTED' | 'RELEASED' | 'EXPIRED' | 'RESTOCKED';
interface Line {
  sku: string;
  quantity: number;
}
interface Reservation {
  id: string;
  status: ReservationStatus;
  expiresAt: Date;
  lines: Line[];
}
interface StockRow {
  onHand: number;
  reserved: number;
}

/**
 * Inventory's durable state (its database): stock rows and reservations. Each method is the
 * effect of one transaction of reservation-store.ts, applied atomically: the insert of a
 * reservation id is unique, every line is held under the guard `on_hand - reserved >= q` or none
 * is, and each transition moves exactly one status to one other (domain/reservation.ts).
 */
export class InventoryTable {
  readonly stock = new Map<string, StockRow>();
  readonly reservations = new Map<string, Reservation>();
  /** Broken invariants seen after a statement (checked after every one: cheap). */
  readonly violations: string[] = [];

  constructor(
    initial: readonly { sku: string; onHand: number }[],
    private readonly bugs: ReadonlySet<SimBug>,
  ) {
    for (const { sku, onHand } of initial) this.stock.set(sku, { onHand, reserved: 0 });
  }

  reserve(id: string, lines: readonly Line[], expiresAt: Date): ReserveOutcome {
    const existing = this.reservations.get(id);
    if (existing) return { kind: 'existing', reservation: copy(existing) };
    const guarded = !this.bugs.has('no-stock-guard');
    const short = lines.filter((line) => {
      const row = this.stock.get(line.sku);
      return !row || (guarded && row.onHand - row.reserved < line.quantity);
    });
    if (short.length > 0) return { kind: 'short', skus: short.map((l) => l.sku) };
    for (const line of lines) (this.stock.get(line.sku) as StockRow).reserved += line.quantity;
    const reservation: Reservation = { id, status: 'HELD', expiresAt, lines: lines.map((l) => ({ ...l })) };
    this.reservations.set(id, reservation);
    this.check(`reserve ${id}`);
    return { kind: 'held', reservation: copy(reservation) };
  }

  transition(id: string, action: 'commit' | 'release' | 'restock'): TransitionOutcome {
    const reservation = this.reservations.get(id);
    const from: ReservationStatus = action === 'restock' ? 'COMMITTED' : 'HELD';
    if (!reservation || reservation.status !== from) return { moved: false, reservation: reservation ? copy(reservation) : undefined };
    for (const line of reservation.lines) {
      const row = this.stock.get(line.sku) as StockRow;
      if (action === 'commit') {
        row.onHand -= line.quantity;
        row.reserved -= line.quantity;
      } else if (action === 'release') {
        row.reserved -= line.quantity;
      } else {
        row.onHand += line.quantity;
      }
    }
    reservation.status = action === 'commit' ? 'COMMITTED' : action === 'release' ? 'RELEASED' : 'RESTOCKED';
    this.check(`${action} ${id}`);
    return { moved: true, reservation: copy(reservation) };
  }

  /** Per SKU: nothing negative, reserved within on hand, reserved = what HELD reservations hold. */
  check(after: string): void {
    const held = new Map<string, number>();
    for (const r of this.reservations.values()) {
      if (r.status !== 'HELD') continue;
      for (const line of r.lines) held.set(line.sku, (held.get(line.sku) ?? 0) + line.quantity);
    }
    for (const [sku, row] of this.stock) {
      const problems: string[] = [];
      if (row.onHand < 0) problems.push(`on hand ${row.onHand} < 0`);
      if (row.reserved < 0) problems.push(`reserved ${row.reserved} < 0`);
      if (row.reserved > row.onHand) problems.push(`reserved ${row.reserved} > on hand ${row.onHand}`);
      if (row.reserved !== (held.get(sku) ?? 0)) problems.push(`reserved ${row.reserved} != ${held.get(sku) ?? 0} held`);
      for (const p of problems) this.violations.push(`stock ${sku} after ${after}: ${p}`);
    }
  }
}

function copy(r: Reservation): Reservation {
  return { id: r.id, status: r.status, expiresAt: new Date(r.expiresAt), lines: r.lines.map((l) => ({ ...l })) };
}

/**
 * The store the REAL `ReservationsApp` (services/inventory/src/app/reservations.ts) runs on in the
 * simulation: every call one statement of the inventory process's database.
 */
export class ReservationStoreModel {
  constructor(
    private readonly table: InventoryTable,
    private readonly process: SimProcess,
  ) {}

  reserve(id: string, lines: readonly Line[], expiresAt: Date, _now: Date): Promise<ReserveOutcome> {
    return this.process.statement(`reserve ${id.slice(0, 8)}`, () => this.table.reserve(id, lines, expiresAt));
  }

  transition(id: string, action: 'commit' | 'release' | 'restock', _now: Date): Promise<TransitionOutcome> {
    return this.process.statement(`${action} ${id.slice(0, 8)}`, () => this.table.transition(id, action));
  }

  release(id: string, now: Date): Promise<TransitionOutcome> {
    return this.transition(id, 'release', now);
  }

  get(id: string): Promise<Reservation | undefined> {
    return this.process.statement(`get ${id.slice(0, 8)}`, () => {
      const r = this.table.reservations.get(id);
      return r ? copy(r) : undefined;
    });
  }

  /** As the real store's type, for `new ReservationsApp(...)`: the model answers the same methods. */
  asStore(): ConstructorParameters<typeof ReservationsApp>[0] {
    return this as unknown as ConstructorParameters<typeof ReservationsApp>[0];
  }
}
