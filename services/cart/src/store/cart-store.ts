import { asc, eq, sql, type SQL } from 'drizzle-orm';
import { AppError, LIMITS, notFound } from '@agora/kernel';
import { PG_CHECK_VIOLATION, SHARD_ROUTER_DEFAULTS, onKeyShard, pgConstraint, pgErrorCode, type FenceWait, type ShardRouter, type Storage } from '@agora/platform';
import { mergedQuantity, tooManyLines, totalPerSku, type CartLine } from '../domain/cart.js';
import { CART_LINE_COUNT_CHECK, cartLines } from './schema.js';

/** Timestamps come from the application's clock, not the database's `now()`. */
const at = (date: Date): SQL => sql`${date.toISOString()}::timestamptz`;

/** What every change statement answers (see `outcome`). */
interface OutcomeRow {
  /** The cart's version after this statement's bump; null when the statement changed nothing. */
  version: number | null;
  /** The cart's version in the statement's snapshot; null when there was no cart then. */
  seen: number | null;
  /** The lines after the change, composed from the snapshot and the changed rows. */
  lines: CartLine[];
}

/**
 * The tail of every change statement. It needs two CTEs before it: `cart` (the bumped version) and
 * `changed` (sku, quantity, added_at of every line the statement touched, quantity 0 when deleted).
 * A statement cannot see its own writes, so the lines are the snapshot's minus the touched SKUs
 * plus the touched rows as written.
 */
const outcome = (userId: string, extra: SQL = sql``): SQL => sql`
  select ${extra} (select version from cart) as version,
         (select version from cart.carts where user_id = ${userId}) as seen,
         coalesce((select json_agg(json_build_object('sku', l.sku, 'quantity', l.quantity) order by l.added_at, l.sku)
           from (select sku, quantity, added_at from cart.cart_lines where user_id = ${userId} and sku not in (select sku from changed)
                 union all
                 select sku, quantity, added_at from changed where quantity > 0) l), '[]'::json) as lines`;


function assertQuantity(quantity: number, min: number): void {
  if (!Number.isInteger(quantity) || quantity < min || quantity > LIMITS.cartQuantityMax) {
    throw new Error(`a line quantity must be an integer in [${min}, ${LIMITS.cartQuantityMax}], got ${quantity}`);
  }
}

/**
 * Carts through the shard router: every statement about a user's cart runs on
 * `router.shardFor(userId).storage`, never on a storage assumed to hold every cart.
 *
 * Every change is ONE statement (data-modifying CTEs, one round trip, atomic without BEGIN) that
 * ends by bumping the user's `carts` row. Lock order, the same in every statement: the order's
 * `checked_out_orders` row (checkout only), then lines in ascending SKU order, then the `carts`
 * row last; whoever holds `carts` waits for nothing, so none deadlock. The limits hold from the
 * latest row versions (ON CONFLICT DO UPDATE, FOR UPDATE), never from a statement's snapshot:
 * the per-line maximum by the upsert's WHERE, the line maximum by `carts.line_count`'s CHECK.
 */
export class CartStore {
  constructor(
    private readonly router: ShardRouter,
    /** Told when a change waited for a shard move of its shopper (it retries, bounded: SHARD_RETRY_LIMITS). */
    private readonly onFenceWait?: (wait: FenceWait) => void,
  ) {}

  private storageFor(userId: string): Storage {
    return this.router.shardFor(userId).storage;
  }

  /** Lines in the order they were first added. */
  async lines(userId: string): Promise<CartLine[]> {
    const lines = await this.linesOn(this.storageFor(userId), userId);
    // Empty on a shard this instance's map may name after a move cleaned it: look again if the map changed.
    if (lines.length > 0 || !(await this.router.refresh?.(SHARD_ROUTER_DEFAULTS.emptyReadRecheckMs))) return lines;
    return this.linesOn(this.storageFor(userId), userId);
  }

  private linesOn(storage: Storage, userId: string): Promise<CartLine[]> {
    return storage.db
      .select({ sku: cartLines.sku, quantity: cartLines.quantity })
      .from(cartLines)
      .where(eq(cartLines.userId, userId))
      .orderBy(asc(cartLines.addedAt), asc(cartLines.sku));
  }

  /**
   * Adds `quantity` units of `sku`, merging with an existing line. Throws VALIDATION_FAILED naming
   * `quantity` when the merged line would pass the per-SKU limit, naming `sku` when a new line
   * would pass the line limit.
   */
  async add(userId: string, sku: string, quantity: number, now: Date): Promise<CartLine[]> {
    assertQuantity(quantity, 1);
    // A merged line holds more than `quantity` (a stored line holds at least 1), so
    // `quantity = ${quantity}` in `line` means the row was inserted: one more line for the cart.
    const statement = sql`
      with line as (
        insert into cart.cart_lines (user_id, sku, quantity, added_at)
        values (${userId}, ${sku}, ${quantity}, ${at(now)})
        on conflict (user_id, sku) do update set quantity = cart_lines.quantity + excluded.quantity
          where cart_lines.quantity + excluded.quantity <= ${LIMITS.cartQuantityMax}
        returning sku, quantity, added_at
      ),
      cart as (
        insert into cart.carts (user_id, updated_at, version, line_count)
        select ${userId}::uuid, ${at(now)}, 1, (quantity = ${quantity})::int from line
        on conflict (user_id) do update
          set version = carts.version + 1, updated_at = excluded.updated_at, line_count = carts.line_count + excluded.line_count
        returning version
      ),
      changed as (select sku, quantity, added_at from line)
      ${outcome(userId)}`;
    let row: OutcomeRow;
    try {
      row = await this.change(userId, statement);
    } catch (err) {
      if (pgErrorCode(err) === PG_CHECK_VIOLATION && pgConstraint(err) === CART_LINE_COUNT_CHECK) throw tooManyLines();
      throw err;
    }
    if (row.version === null) {
      // Only the upsert's WHERE refuses: read what the line holds now to say how much still fits.
      const current = (await this.lines(userId)).find((l) => l.sku === sku)?.quantity ?? 0;
      mergedQuantity(current, quantity);
      throw new AppError('CONFLICT', `The cart's line ${sku} changed while adding to it; try again`);
    }
    return this.settled(userId, row);
  }

  /** Sets a line's quantity; 0 removes it. NOT_FOUND when the SKU is not in the cart. */
  async setQuantity(userId: string, sku: string, quantity: number, now: Date): Promise<CartLine[]> {
    assertQuantity(quantity, 0);
    if (quantity === 0) {
      const row = await this.change(userId, this.removal(userId, sku, now));
      if (row.version === null) throw notFound(`SKU ${sku} in the cart`);
      return this.settled(userId, row);
    }
    const row = await this.change(
      userId,
      sql`
        with line as (
          update cart.cart_lines set quantity = ${quantity} where user_id = ${userId} and sku = ${sku} returning sku, quantity, added_at
        ),
        cart as (
          update cart.carts set version = version + 1, updated_at = ${at(now)}
          where user_id = ${userId} and exists (select 1 from line)
          returning version
        ),
        changed as (select sku, quantity, added_at from line)
        ${outcome(userId)}`,
    );
    if (row.version === null) throw notFound(`SKU ${sku} in the cart`);
    return this.settled(userId, row);
  }

  /** Removes a line; removing one that is not there changes nothing. */
  async remove(userId: string, sku: string, now: Date): Promise<CartLine[]> {
    return this.settled(userId, await this.change(userId, this.removal(userId, sku, now)));
  }

  /**
   * Takes an order's quantities out of the cart, once per order id: `applied` is false (and
   * nothing changes) when this order was applied before. Lines added since the checkout began
   * keep what exceeds the order's quantities; a line left at 0 or below goes.
   *
   * Idempotent by the `checked_out_orders` primary key: a second statement for the same order id
   * waits on the first one's insert, then finds it and changes nothing. `locked` reads each bought
   * line's latest quantity under FOR UPDATE, so an add committed while this statement waited is
   * subtracted from, not overwritten.
   */
  async checkedOut(userId: string, orderId: string, bought: readonly CartLine[], now: Date): Promise<{ applied: boolean; lines: CartLine[] }> {
    const totals = totalPerSku(bought);
    if (totals.length > LIMITS.cartLinesMax) throw new Error(`an order holds at most ${LIMITS.cartLinesMax} SKUs, got ${totals.length}`);
    for (const line of totals) if (!Number.isInteger(line.quantity) || line.quantity < 1) throw new Error(`bought ${line.quantity} of ${line.sku}`);
    const boughtRows =
      totals.length === 0
        ? sql`select null::text, null::int where false`
        : sql`values ${sql.join(
            totals.map((l) => sql`(${l.sku}::text, ${l.quantity}::int)`),
            sql`, `,
          )}`;
    const row = await this.change<{ recorded: boolean }>(
      userId,
      sql`
        with recorded as (
          insert into cart.checked_out_orders (user_id, order_id, applied_at) values (${userId}, ${orderId}, ${at(now)})
          on conflict (user_id, order_id) do nothing
          returning order_id
        ),
        bought (sku, quantity) as (${boughtRows}),
        locked as (
          select l.sku, l.quantity - b.quantity as remaining
          from cart.cart_lines l join bought b on b.sku = l.sku
          where l.user_id = ${userId} and exists (select 1 from recorded)
          order by l.sku
          for update of l
        ),
        removed as (
          delete from cart.cart_lines l using locked k
          where l.user_id = ${userId} and l.sku = k.sku and k.remaining <= 0
          returning l.sku, 0 as quantity, l.added_at
        ),
        kept as (
          update cart.cart_lines l set quantity = k.remaining from locked k
          where l.user_id = ${userId} and l.sku = k.sku and k.remaining > 0
          returning l.sku, l.quantity, l.added_at
        ),
        cart as (
          update cart.carts set version = version + 1, updated_at = ${at(now)}, line_count = line_count - (select count(*)::int from removed)
          where user_id = ${userId} and exists (select 1 from recorded)
          returning version
        ),
        changed as (select sku, quantity, added_at from removed union all select sku, quantity, added_at from kept)
        ${outcome(userId, sql`exists (select 1 from recorded) as recorded,`)}`,
    );
    // A user without a cart row has nothing to take out: the order id is recorded all the same.
    if (row.recorded && row.seen !== null && row.version === null) throw new Error(`checkout ${orderId} was recorded but cart ${userId} not bumped`);
    return { applied: row.recorded, lines: await this.settled(userId, row) };
  }

  /** Forgets applied order ids older than `before` on every shard; returns how many. */
  async pruneCheckedOut(before: Date): Promise<number> {
    let pruned = 0;
    for (const shard of this.router.all()) {
      const rows = await shard.storage.query<{ order_id: string }>(
        sql`delete from cart.checked_out_orders where applied_at < ${at(before)} returning order_id`,
      );
      pruned += rows.length;
    }
    return pruned;
  }

  private removal(userId: string, sku: string, now: Date): SQL {
    return sql`
      with line as (
        delete from cart.cart_lines where user_id = ${userId} and sku = ${sku} returning sku, 0 as quantity, added_at
      ),
      cart as (
        update cart.carts set version = version + 1, updated_at = ${at(now)}, line_count = line_count - (select count(*)::int from line)
        where user_id = ${userId} and exists (select 1 from line)
        returning version
      ),
      changed as (select sku, quantity, added_at from line)
      ${outcome(userId)}`;
  }

  private async change<Extra extends object = object>(userId: string, statement: SQL): Promise<OutcomeRow & Extra> {
    // A change refused by a shard fence changed nothing: it runs again where the map now says.
    const [row] = await onKeyShard(this.router, userId, (shard) => shard.storage.query<OutcomeRow & Extra>(statement), this.onFenceWait);
    if (!row || !Array.isArray(row.lines)) throw new Error('a cart change statement answered no outcome row');
    return row;
  }

  /**
   * The lines after a change. The composed lines are exact when this statement's bump directly
   * follows the version its snapshot saw; otherwise another change committed while it waited for a
   * lock (or it changed nothing), and a fresh read says what the cart holds now.
   */
  private async settled(userId: string, row: OutcomeRow): Promise<CartLine[]> {
    const exact = row.version !== null && row.version === (row.seen ?? 0) + 1;
    const lines = exact ? row.lines : await this.lines(userId);
    if (lines.length > LIMITS.cartLinesMax) throw new Error(`cart ${userId} holds ${lines.length} lines, past ${LIMITS.cartLinesMax}`);
    for (const line of lines) assertQuantity(line.quantity, 1);
    return lines;
  }
}
