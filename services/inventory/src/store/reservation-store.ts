import { inArray, sql, type SQL } from 'drizzle-orm';
import type { Storage, Tx } from '@agora/platform';
import { TRANSITIONS, totalPerSku, type Reservation, type ReservationAction, type ReservationLine } from '../domain/reservation.js';
import { at, loadReservation, type ReserveOutcome, type TransitionOutcome } from './reservation-rows.js';
import { reservationLines } from './schema.js';
import { runStockBatch, type StockAnswer, type StockBatchFaults, type StockOp } from './stock-batch.js';
import { StockBatcher, type BatchOutcome, type BatcherStats } from './stock-batcher.js';
import { recordStockChanges, type StockRow } from './stock-facts.js';

export type { ReserveOutcome, TransitionOutcome } from './reservation-rows.js';

const STOCK_REASON: Record<ReservationAction, string> = { commit: 'committed', release: 'released', restock: 'restocked' };

/** Thrown inside the reserve transaction to roll it back; never leaves this module. */
class ShortStock extends Error {
  constructor(readonly skus: string[]) {
    super(`short: ${skus.join(', ')}`);
  }
}

export interface InventoryTotal {
  sku: string;
  onHand: number;
  reserved: number;
  /** Units in lines of HELD reservations: must equal `reserved`. */
  heldReservedSum: number;
}

export interface ReservationStoreOptions {
  /** Called once per batch of reserves and commits with its size and how it ended (a metric). */
  onBatch?: (size: number, outcome: BatchOutcome) => void;
  /** Fault injection for tests: runs inside each batch transaction just before it commits. */
  batchFaults?: StockBatchFaults;
}

/**
 * Reservations and the stock they move. Lock order, the same in every transaction, is what keeps
 * concurrent checkouts, commits and sweepers from deadlocking: first the reservation row(s) in
 * ascending id, then stock rows in ascending SKU order (one statement each on the single path,
 * one `select ... for update` for a whole batch).
 *
 * Reserves and commits go through a `StockBatcher`, which folds concurrent ones into one
 * transaction per batch (`stock-batch.ts`); the single-operation path below is its fallback.
 * Release, restock and expiry run alone.
 */
export class ReservationStore {
  private readonly batcher: StockBatcher;

  constructor(
    private readonly storage: Storage,
    options: ReservationStoreOptions = {},
  ) {
    this.batcher = new StockBatcher({
      runBatch: (ops) => runStockBatch(storage, ops, options.batchFaults),
      runOne: (op) => this.runOne(op),
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
    });
  }

  /** What the batcher did so far (tests, diagnostics). */
  get batchStats(): Readonly<BatcherStats> {
    return this.batcher.stats;
  }

  /** `lines` must be distinct SKUs sorted by SKU (`normaliseLines`). */
  async reserve(id: string, lines: readonly ReservationLine[], expiresAt: Date, now: Date): Promise<ReserveOutcome> {
    const answer = await this.batcher.submit({ kind: 'reserve', id, lines, expiresAt, now });
    if (answer.kind !== 'reserve') throw new Error(`invariant broken: reserve ${id} answered as a ${answer.kind}`);
    return answer.outcome;
  }

  /**
   * Applies `action` if the reservation is in the action's from-status. `moved: false` when the
   * guard refused (the reservation as it is now, or undefined when there is none).
   */
  async transition(id: string, action: ReservationAction, now: Date): Promise<TransitionOutcome> {
    if (action !== 'commit') return this.transitionOne(id, action, now);
    const answer = await this.batcher.submit({ kind: 'commit', id, now });
    if (answer.kind !== 'commit') throw new Error(`invariant broken: commit ${id} answered as a ${answer.kind}`);
    return answer.outcome;
  }

  private async runOne(op: StockOp): Promise<StockAnswer> {
    if (op.kind === 'reserve') return { kind: 'reserve', outcome: await this.reserveOne(op.id, op.lines, op.expiresAt, op.now) };
    return { kind: 'commit', outcome: await this.transitionOne(op.id, 'commit', op.now) };
  }

  /** The single-operation reserve: one transaction, one guarded update per line. */
  private async reserveOne(id: string, lines: readonly ReservationLine[], expiresAt: Date, now: Date): Promise<ReserveOutcome> {
    try {
      return await this.storage.transaction(async (tx): Promise<ReserveOutcome> => {
        // A concurrent reserve of the same id waits here until the first commits or rolls back.
        const inserted = await this.storage.query<{ id: string }>(
          sql`insert into inventory.reservations (id, status, expires_at, created_at, updated_at)
              values (${id}, 'HELD', ${at(expiresAt)}, ${at(now)}, ${at(now)})
              on conflict (id) do nothing
              returning id`,
          tx,
        );
        if (inserted.length === 0) {
          const existing = await loadReservation(tx, id);
          if (!existing) throw new Error(`reservation ${id} conflicted on insert but cannot be read`);
          return { kind: 'existing', reservation: existing };
        }
        const moved: StockRow[] = [];
        for (const [i, line] of lines.entries()) {
          const held = await this.storage.query<StockRow>(
            sql`update inventory.stock set reserved = reserved + ${line.quantity}, updated_at = ${at(now)}
                where sku = ${line.sku} and on_hand - reserved >= ${line.quantity}
                returning sku, on_hand, reserved`,
            tx,
          );
          if (held.length === 0) throw new ShortStock([line.sku, ...(await this.alsoShort(lines.slice(i + 1), tx))]);
          moved.push(...held);
        }
        await tx.insert(reservationLines).values(lines.map((l) => ({ reservationId: id, sku: l.sku, quantity: l.quantity })));
        await recordStockChanges(this.storage, tx, moved, 'reserved', now);
        return { kind: 'held', reservation: { id, status: 'HELD', expiresAt, lines: [...lines] } };
      });
    } catch (err) {
      if (err instanceof ShortStock) return { kind: 'short', skus: err.skus };
      throw err;
    }
  }

  /**
   * The rest of a refused reservation, read without locking: a snapshot good enough to tell the
   * buyer every line that is short, not only the first. The transaction rolls back anyway.
   */
  private async alsoShort(rest: readonly ReservationLine[], tx: Tx): Promise<string[]> {
    if (rest.length === 0) return [];
    const rows = await this.storage.query<{ sku: string; available: number }>(
      sql`select sku, on_hand - reserved as available from inventory.stock
          where sku in (${sql.join(
            rest.map((l) => sql`${l.sku}`),
            sql`, `,
          )})`,
      tx,
    );
    const available = new Map(rows.map((r) => [r.sku, Number(r.available)]));
    return rest.filter((l) => (available.get(l.sku) ?? 0) < l.quantity).map((l) => l.sku);
  }

  /** The single-operation transition: one guarded update of the reservation and the stock it moves, in one transaction. */
  private transitionOne(id: string, action: ReservationAction, now: Date): Promise<TransitionOutcome> {
    const rule = TRANSITIONS[action];
    return this.storage.transaction(async (tx): Promise<TransitionOutcome> => {
      const moved = await this.storage.query<{ id: string }>(
        sql`update inventory.reservations set status = ${rule.to}, updated_at = ${at(now)}
            where id = ${id} and status = ${rule.from}
            returning id`,
        tx,
      );
      if (moved.length === 0) return { moved: false, reservation: await loadReservation(tx, id) };
      const reservation = await loadReservation(tx, id);
      if (!reservation) throw new Error(`reservation ${id} moved but cannot be read`);
      const rows: StockRow[] = [];
      for (const line of reservation.lines) rows.push(await this.moveStock(action, line, now, tx));
      await recordStockChanges(this.storage, tx, rows, STOCK_REASON[action], now);
      return { moved: true, reservation };
    });
  }

  /**
   * `transition(id, 'release')`, except that release of an id nobody reserved under records it as RELEASED with no lines, so a reserve call
   * still in flight (the saga gave up on it) is refused when it lands instead of holding stock.
   */
  async release(id: string, now: Date): Promise<TransitionOutcome> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const outcome = await this.transition(id, 'release', now);
      if (outcome.moved || outcome.reservation) return outcome;
      const tombstone = await this.storage.query<{ id: string }>(
        sql`insert into inventory.reservations (id, status, expires_at, created_at, updated_at)
            values (${id}, 'RELEASED', ${at(now)}, ${at(now)}, ${at(now)})
            on conflict (id) do nothing
            returning id`,
      );
      if (tombstone.length > 0) return { moved: true, reservation: { id, status: 'RELEASED', expiresAt: now, lines: [] } };
      // A reserve under this id committed between our update and insert: release what it holds.
    }
    throw new Error(`reservation ${id} could neither be released nor recorded as released`);
  }

  private async moveStock(action: ReservationAction, line: ReservationLine, now: Date, tx: Tx): Promise<StockRow> {
    const change: Record<ReservationAction, SQL> = {
      commit: sql`on_hand = on_hand - ${line.quantity}, reserved = reserved - ${line.quantity}`,
      release: sql`reserved = reserved - ${line.quantity}`,
      restock: sql`on_hand = on_hand + ${line.quantity}`,
    };
    const rows = await this.storage.query<StockRow>(
      sql`update inventory.stock set ${change[action]}, updated_at = ${at(now)} where sku = ${line.sku} returning sku, on_hand, reserved`,
      tx,
    );
    // A reservation line exists only for a SKU whose stock row it reserved from; rows are never deleted.
    const row = rows[0];
    if (rows.length !== 1 || !row) throw new Error(`invariant broken: stock row of ${line.sku} missing while applying ${action}`);
    return row;
  }

  /**
   * One sweep: claims up to `limit` HELD reservations that expired before `now`, skipping any
   * another transaction holds (a commit, another sweeper), marks them EXPIRED and gives their
   * stock back. Returns the ids expired.
   */
  /**
   * HELD reservations past their expiry at `now` (the sweeper's work not done yet): how many, up to
   * `cap`, and how far past it the oldest is (0 when none). Two index reads (reservations_held_expiry).
   */
  async overdue(now: Date, cap: number): Promise<{ count: number; oldestSeconds: number }> {
    const [row] = await this.storage.query<{ n: number; oldest: Date | string | null }>(
      sql`select count(*)::int as n, min(expires_at) as oldest
          from (select expires_at from inventory.reservations where status = 'HELD' and expires_at < ${at(now)} order by expires_at limit ${cap}) due`,
    );
    const oldest = row?.oldest ? new Date(row.oldest).getTime() : now.getTime();
    return { count: row?.n ?? 0, oldestSeconds: Math.max(0, now.getTime() - oldest) / 1000 };
  }

  expireDue(now: Date, limit: number): Promise<string[]> {
    return this.storage.transaction(async (tx) => {
      const expired = await this.storage.query<{ id: string }>(
        sql`with due as (
              select id from inventory.reservations
              where status = 'HELD' and expires_at < ${at(now)}
              order by expires_at, id
              limit ${limit}
              for update skip locked
            )
            update inventory.reservations r set status = 'EXPIRED', updated_at = ${at(now)}
            from due where r.id = due.id and r.status = 'HELD'
            returning r.id`,
        tx,
      );
      if (expired.length === 0) return [];
      const ids = expired.map((r) => r.id);
      const lines = await tx
        .select({ sku: reservationLines.sku, quantity: reservationLines.quantity })
        .from(reservationLines)
        .where(inArray(reservationLines.reservationId, ids));
      const rows: StockRow[] = [];
      for (const line of totalPerSku(lines)) rows.push(await this.moveStock('release', line, now, tx));
      await recordStockChanges(this.storage, tx, rows, 'expired', now);
      return ids;
    });
  }

  get(id: string): Promise<Reservation | undefined> {
    return loadReservation(this.storage.db, id);
  }

  /**
   * Per SKU: on hand, reserved and the units held by HELD reservations, read in one statement
   * (one snapshot). A full join, so a held line without a stock row shows up as a mismatch too.
   */
  async totals(): Promise<InventoryTotal[]> {
    const rows = await this.storage.query<{ sku: string; on_hand: number; reserved: number; held: number }>(sql`
      select coalesce(s.sku, h.sku) as sku,
             coalesce(s.on_hand, 0) as on_hand,
             coalesce(s.reserved, 0) as reserved,
             coalesce(h.held, 0) as held
      from inventory.stock s
      full join (
        select l.sku, sum(l.quantity)::int as held
        from inventory.reservation_lines l
        join inventory.reservations r on r.id = l.reservation_id
        where r.status = 'HELD'
        group by l.sku
      ) h on h.sku = s.sku
      order by 1`);
    return rows.map((r) => ({ sku: r.sku, onHand: Number(r.on_hand), reserved: Number(r.reserved), heldReservedSum: Number(r.held) }));
  }
}
