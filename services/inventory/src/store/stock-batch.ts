import { sql, type SQL } from 'drizzle-orm';
import type { Storage, Tx } from '@agora/platform';
import type { ReservationLine } from '../domain/reservation.js';
import { grantInOrder, type Grant, type StockCounters, type StockDelta, type StockRequest } from '../domain/stock-grants.js';
import { at, loadReservation, type ReserveOutcome, type TransitionOutcome } from './reservation-rows.js';
import { recordStockChanges, type StockRow } from './stock-facts.js';

/** An operation the batcher coalesces. `lines` must be distinct SKUs sorted by SKU (`normaliseLines`). */
export type StockOp =
  | { kind: 'reserve'; id: string; lines: readonly ReservationLine[]; expiresAt: Date; now: Date }
  | { kind: 'commit'; id: string; now: Date };

export type StockAnswer = { kind: 'reserve'; outcome: ReserveOutcome } | { kind: 'commit'; outcome: TransitionOutcome };

/** Fault injection for tests: a throw from `beforeCommit` rolls the batch back like any failure. */
export interface StockBatchFaults {
  beforeCommit?: (ops: readonly StockOp[]) => void | Promise<void>;
}

/** The reason of a StockChanged fact, by which kinds of operation moved the SKU in the batch. */
const REASON = { reserves: 'reserved', commits: 'committed', both: 'reserved and committed' } as const;

/** Reservation ids are UUIDs: the database answers them lower-case whatever case was asked. */
export const idKey = (id: string): string => id.toLowerCase();

const list = (items: readonly SQL[]): SQL => sql.join([...items], sql`, `);
const bySku = (a: { sku: string }, b: { sku: string }): number => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0);

/**
 * Runs a batch of reserves and commits in ONE transaction and answers each one exactly as the
 * single-operation path would have, had they run alone in arrival order. Each id appears at most
 * once in a batch. Lock order (the same as every other inventory transaction): reservation rows
 * first, ascending id (the new rows, then the committed ones), then stock rows in ascending SKU
 * order, all taken by one `select ... for update` before anything is granted.
 */
export async function runStockBatch(storage: Storage, ops: readonly StockOp[], faults?: StockBatchFaults): Promise<StockAnswer[]> {
  const ids = new Set(ops.map((op) => idKey(op.id)));
  if (ops.length === 0 || ids.size !== ops.length) throw new Error(`a stock batch needs distinct reservation ids, got ${ops.length} ops for ${ids.size} ids`);
  const now = new Date(Math.max(...ops.map((op) => op.now.getTime())));

  return storage.transaction(async (tx) => {
    const inserted = await insertReservations(storage, tx, ops);
    const committed = await commitReservations(storage, tx, ops);

    // Only new reservations and moved commits take part in the grant, in arrival order.
    const taking = ops.flatMap((op, index) => {
      if (op.kind === 'reserve') return inserted.has(idKey(op.id)) ? [{ index, request: { kind: 'reserve', lines: op.lines } as StockRequest }] : [];
      const moved = committed.get(idKey(op.id));
      return moved ? [{ index, request: { kind: 'commit', lines: moved.lines } as StockRequest }] : [];
    });
    const plan = grantInOrder(await lockStock(storage, tx, taking.map((t) => t.request)), taking.map((t) => t.request));
    const grantOf = new Map(taking.map((t, i) => [t.index, plan.grants[i]]));

    const refusedIds: string[] = [];
    const heldLines: SQL[] = [];
    ops.forEach((op, index) => {
      const grant = grantOf.get(index);
      if (op.kind !== 'reserve' || !grant) return;
      if (!grant.granted) refusedIds.push(op.id);
      else for (const l of op.lines) heldLines.push(sql`(${op.id}::uuid, ${l.sku}, ${l.quantity}::int)`);
    });
    const rows = await writeBatch(storage, tx, refusedIds, heldLines, plan.deltas, now);
    for (const reason of Object.keys(REASON) as (keyof typeof REASON)[]) {
      const skus = new Set(plan.deltas.filter((d) => reasonOf(d) === reason).map((d) => d.sku));
      await recordStockChanges(storage, tx, rows.filter((r) => skus.has(r.sku)), REASON[reason], now);
    }

    // Sequential: the few reads left (replays, refused commits) share the transaction's one connection.
    const answers: StockAnswer[] = [];
    for (const [index, op] of ops.entries()) answers.push(await answer(tx, op, grantOf.get(index), committed));
    await faults?.beforeCommit?.(ops);
    return answers;
  });
}

async function answer(tx: Tx, op: StockOp, grant: Grant | undefined, committed: ReadonlyMap<string, Committed>): Promise<StockAnswer> {
  if (op.kind === 'commit') {
    // Not moved: another transaction moved it first (or there is none); answered as it is now.
    const moved = committed.get(idKey(op.id));
    if (!moved) return { kind: 'commit', outcome: { moved: false, reservation: await loadReservation(tx, op.id) } };
    return { kind: 'commit', outcome: { moved: true, reservation: { id: moved.id, status: 'COMMITTED', expiresAt: moved.expiresAt, lines: moved.lines } } };
  }
  if (!grant) {
    // Not inserted: the id was used before, like the single path's `existing`.
    const reservation = await loadReservation(tx, op.id);
    if (!reservation) throw new Error(`reservation ${op.id} conflicted on insert but cannot be read`);
    return { kind: 'reserve', outcome: { kind: 'existing', reservation } };
  }
  if (!grant.granted) return { kind: 'reserve', outcome: { kind: 'short', skus: grant.shortSkus } };
  return { kind: 'reserve', outcome: { kind: 'held', reservation: { id: op.id, status: 'HELD', expiresAt: op.expiresAt, lines: [...op.lines] } } };
}

function reasonOf(delta: StockDelta): keyof typeof REASON {
  return delta.reserves && delta.commits ? 'both' : delta.reserves ? 'reserves' : 'commits';
}

/** Inserts the batch's reservations as HELD (ascending id); a concurrent insert of one id waits here. Returns the ids it created. */
async function insertReservations(storage: Storage, tx: Tx, ops: readonly StockOp[]): Promise<Set<string>> {
  const reserves = ops.flatMap((op) => (op.kind === 'reserve' ? [op] : [])).sort((a, b) => (idKey(a.id) < idKey(b.id) ? -1 : 1));
  if (reserves.length === 0) return new Set();
  const rows = await storage.query<{ id: string }>(
    sql`insert into inventory.reservations (id, status, expires_at, created_at, updated_at)
        values ${list(reserves.map((op) => sql`(${op.id}::uuid, 'HELD', ${at(op.expiresAt)}, ${at(op.now)}, ${at(op.now)})`))}
        on conflict (id) do nothing
        returning id`,
    tx,
  );
  return new Set(rows.map((r) => idKey(r.id)));
}

interface Committed {
  id: string;
  expiresAt: Date;
  lines: ReservationLine[];
}

/** Moves the batch's HELD reservations to COMMITTED (locked in ascending id) and reads their lines, in one statement. */
async function commitReservations(storage: Storage, tx: Tx, ops: readonly StockOp[]): Promise<Map<string, Committed>> {
  const commits = ops.flatMap((op) => (op.kind === 'commit' ? [op] : []));
  if (commits.length === 0) return new Map();
  const rows = await storage.query<{ id: string; expires_ms: number; sku: string | null; quantity: number | null }>(
    sql`with asked (id, asked_at) as (values ${list(commits.map((op) => sql`(${op.id}::uuid, ${at(op.now)})`))}),
        locked as (
          select r.id from inventory.reservations r join asked a on a.id = r.id
          where r.status = 'HELD' order by r.id for update of r
        ),
        moved as (
          update inventory.reservations r set status = 'COMMITTED', updated_at = a.asked_at
          from locked k join asked a on a.id = k.id
          where r.id = k.id and r.status = 'HELD'
          returning r.id, r.expires_at
        )
        select m.id, (extract(epoch from m.expires_at) * 1000)::float8 as expires_ms, l.sku, l.quantity
        from moved m left join inventory.reservation_lines l on l.reservation_id = m.id
        order by m.id, l.sku`,
    tx,
  );
  const moved = new Map<string, Committed>();
  for (const row of rows) {
    // A HELD reservation holds at least one line: only RELEASED tombstones have none.
    if (row.sku === null || row.quantity === null) throw new Error(`invariant broken: HELD reservation ${row.id} has no lines`);
    const key = idKey(row.id);
    const entry = moved.get(key) ?? { id: row.id, expiresAt: new Date(Number(row.expires_ms)), lines: [] };
    entry.lines.push({ sku: row.sku, quantity: Number(row.quantity) });
    moved.set(key, entry);
  }
  for (const entry of moved.values()) entry.lines.sort(bySku);
  return moved;
}

/** Locks every stock row the requests touch, ascending SKU, and reads their counters. A SKU without a row is absent. */
async function lockStock(storage: Storage, tx: Tx, requests: readonly StockRequest[]): Promise<Map<string, StockCounters>> {
  const skus = [...new Set(requests.flatMap((r) => r.lines.map((l) => l.sku)))].sort();
  if (skus.length === 0) return new Map();
  const rows = await storage.query<StockRow>(
    sql`select sku, on_hand, reserved from inventory.stock
        where sku in (${list(skus.map((s) => sql`${s}`))})
        order by sku for update`,
    tx,
  );
  return new Map(rows.map((r) => [r.sku, { onHand: Number(r.on_hand), reserved: Number(r.reserved) }]));
}

/**
 * One statement: forgets the refused reservations (a refused id is never stored, so it may be
 * retried), writes the held lines, and applies one net guarded delta per SKU. The guard and the
 * table's CHECKs stay the last line: a row the guard refuses fails the batch, never a buyer.
 */
async function writeBatch(storage: Storage, tx: Tx, refusedIds: readonly string[], heldLines: readonly SQL[], deltas: readonly StockDelta[], now: Date): Promise<StockRow[]> {
  const parts: SQL[] = [];
  if (refusedIds.length > 0) parts.push(sql`refused as (delete from inventory.reservations where id in (${list(refusedIds.map((id) => sql`${id}::uuid`))}))`);
  if (heldLines.length > 0) parts.push(sql`held as (insert into inventory.reservation_lines (reservation_id, sku, quantity) values ${list(heldLines)})`);
  const main =
    deltas.length === 0
      ? sql`select null::text as sku, 0 as on_hand, 0 as reserved where false`
      : sql`update inventory.stock s
            set on_hand = s.on_hand + d.on_hand, reserved = s.reserved + d.reserved, updated_at = ${at(now)}
            from (values ${list(deltas.map((d) => sql`(${d.sku}, ${d.onHand}::int, ${d.reserved}::int, ${d.needs}::int)`))}) as d (sku, on_hand, reserved, needs)
            where s.sku = d.sku and s.on_hand - s.reserved >= d.needs
            returning s.sku, s.on_hand, s.reserved`;
  const rows = await storage.query<StockRow>(parts.length > 0 ? sql`with ${list(parts)} ${main}` : main, tx);
  const planned = new Map(deltas.map((d) => [d.sku, d.final]));
  for (const row of rows) {
    const final = planned.get(row.sku);
    if (!final || final.onHand !== Number(row.on_hand) || final.reserved !== Number(row.reserved)) {
      throw new Error(`invariant broken: ${row.sku} reads ${row.on_hand}/${row.reserved} after the batch, planned ${JSON.stringify(final)}`);
    }
  }
  if (rows.length !== deltas.length) throw new Error(`invariant broken: the guarded stock update matched ${rows.length} of ${deltas.length} SKUs`);
  return rows.map((r) => ({ sku: r.sku, on_hand: Number(r.on_hand), reserved: Number(r.reserved) }));
}
