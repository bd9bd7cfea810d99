import type { ReservationLine } from './reservation.js';

/** A stock row's two counters as the batch read them under lock. */
export interface StockCounters {
  onHand: number;
  reserved: number;
}

/**
 * One operation of a batch, in arrival order. `reserve` asks for new holds (all lines or none);
 * `commit` takes the lines of a reservation that is HELD (its units are already in `reserved`)
 * out of stock for good.
 */
export type StockRequest = { kind: 'reserve'; lines: readonly ReservationLine[] } | { kind: 'commit'; lines: readonly ReservationLine[] };

export type Grant = { granted: true } | { granted: false; shortSkus: string[] };

/**
 * The net change a batch makes to one SKU: add `onHand` and `reserved` to the row, guarded by
 * `on_hand - reserved >= needs` (the units this batch newly reserves: commits leave availability
 * unchanged). `final` is what the row must read afterwards; `reserves`/`commits` say which kinds
 * of operation moved it (the reason of its StockChanged fact).
 */
export interface StockDelta {
  sku: string;
  onHand: number;
  reserved: number;
  needs: number;
  final: StockCounters;
  reserves: boolean;
  commits: boolean;
}

export interface GrantPlan {
  /** Index-aligned with the requests. */
  grants: Grant[];
  /** One per SKU whose row changes, sorted by SKU. */
  deltas: StockDelta[];
}

/**
 * Grants a batch in arrival order against the locked stock rows, in memory, exactly as if each
 * request ran alone one after the other: a reservation takes all its lines when every SKU has a
 * row with enough units available (`onHand - reserved`), else it takes nothing and names every
 * short SKU; a commit always moves (its units are held). Then folds the moves into one net delta
 * per SKU. Pure: no I/O, the inputs are not modified.
 *
 * Throws when a commit's lines are not covered by its row (no row, or fewer units reserved or on
 * hand than the line): that breaks the invariant "reserved equals the units HELD reservations hold".
 */
export function grantInOrder(stock: ReadonlyMap<string, StockCounters>, requests: readonly StockRequest[]): GrantPlan {
  const levels = new Map<string, StockCounters>();
  const deltas = new Map<string, StockDelta>();
  const levelOf = (sku: string): StockCounters | undefined => {
    const known = levels.get(sku);
    if (known) return known;
    const read = stock.get(sku);
    if (!read) return undefined;
    const copy = { onHand: read.onHand, reserved: read.reserved };
    levels.set(sku, copy);
    return copy;
  };
  const deltaOf = (sku: string): StockDelta => {
    let delta = deltas.get(sku);
    if (!delta) {
      delta = { sku, onHand: 0, reserved: 0, needs: 0, final: { onHand: 0, reserved: 0 }, reserves: false, commits: false };
      deltas.set(sku, delta);
    }
    return delta;
  };

  const grants = requests.map((request): Grant => {
    if (request.kind === 'commit') {
      for (const line of request.lines) {
        const level = levelOf(line.sku);
        if (!level || level.reserved < line.quantity || level.onHand < line.quantity) {
          throw new Error(`invariant broken: committing ${line.quantity} of ${line.sku} but the row holds ${JSON.stringify(level)}`);
        }
        level.onHand -= line.quantity;
        level.reserved -= line.quantity;
        const delta = deltaOf(line.sku);
        delta.onHand -= line.quantity;
        delta.reserved -= line.quantity;
        delta.commits = true;
      }
      return { granted: true };
    }
    const shortSkus = request.lines.filter((line) => {
      const level = levelOf(line.sku);
      return !level || level.onHand - level.reserved < line.quantity;
    });
    if (shortSkus.length > 0) return { granted: false, shortSkus: shortSkus.map((l) => l.sku) };
    for (const line of request.lines) {
      const level = levelOf(line.sku);
      if (!level) throw new Error(`invariant broken: ${line.sku} was available a moment ago`);
      level.reserved += line.quantity;
      const delta = deltaOf(line.sku);
      delta.reserved += line.quantity;
      delta.needs += line.quantity;
      delta.reserves = true;
    }
    return { granted: true };
  });

  const sorted = [...deltas.values()].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
  for (const delta of sorted) {
    const level = levels.get(delta.sku);
    if (!level || level.reserved < 0 || level.reserved > level.onHand) {
      throw new Error(`invariant broken: ${delta.sku} would end at ${JSON.stringify(level)}`);
    }
    delta.final = { onHand: level.onHand, reserved: level.reserved };
  }
  return { grants, deltas: sorted };
}
