import { asc, eq, sql, type SQL } from 'drizzle-orm';
import { LIMITS, notFound } from '@agora/kernel';
import type { Executor, ShardRouter, Storage, Tx } from '@agora/platform';
import { afterCheckout, mergedQuantity, tooManyLines, type CartLine } from '../domain/cart.js';
import { cartLines } from './schema.js';

/** Timestamps come from the application's clock, not the database's `now()`. */
const at = (date: Date): SQL => sql`${date.toISOString()}::timestamptz`;

/**
 * Carts through the shard router: every statement about a user's cart runs on
 * `router.shardFor(userId).storage`, never on a storage assumed to hold every cart.
 *
 * Every change locks the user's `carts` row first and only then touches lines. That serializes
 * changes to one cart (so the line limit holds under concurrent adds of different SKUs) and gives
 * every transaction the same lock order (so none deadlock).
 */
export class CartStore {
  constructor(private readonly router: ShardRouter) {}

  private storageFor(userId: string): Storage {
    return this.router.shardFor(userId).storage;
  }

  /** Lines in the order they were first added. */
  lines(userId: string): Promise<CartLine[]> {
    return this.readLines(this.storageFor(userId).db, userId);
  }

  /**
   * Adds `quantity` units of `sku`, merging with an existing line. Throws VALIDATION_FAILED naming
   * `quantity` when the merged line would pass the per-SKU limit, naming `sku` when a new line
   * would pass the line limit.
   */
  add(userId: string, sku: string, quantity: number, now: Date): Promise<CartLine[]> {
    const storage = this.storageFor(userId);
    return storage.transaction(async (tx) => {
      await this.lockCart(storage, tx, userId, now, true);
      const [shape] = await storage.query<{ lines: number; has_sku: boolean }>(
        sql`select count(*)::int as lines, coalesce(bool_or(sku = ${sku}), false) as has_sku from cart.cart_lines where user_id = ${userId}`,
        tx,
      );
      if (!shape?.has_sku && (shape?.lines ?? 0) >= LIMITS.cartLinesMax) throw tooManyLines();
      // The WHERE keeps the sum within the limit even if the lock above were ever removed.
      const merged = await storage.query<{ quantity: number }>(
        sql`insert into cart.cart_lines (user_id, sku, quantity, added_at)
            values (${userId}, ${sku}, ${quantity}, ${at(now)})
            on conflict (user_id, sku) do update set quantity = cart_lines.quantity + excluded.quantity
              where cart_lines.quantity + excluded.quantity <= ${LIMITS.cartQuantityMax}
            returning quantity`,
        tx,
      );
      if (merged.length === 0) {
        const current = (await this.readLines(tx, userId)).find((l) => l.sku === sku)?.quantity ?? 0;
        mergedQuantity(current, quantity);
        throw new Error(`line ${sku} refused a merge of ${quantity} onto ${current} within the limit`);
      }
      await this.touch(storage, tx, userId, now);
      return this.readLines(tx, userId);
    });
  }

  /** Sets a line's quantity; 0 removes it. NOT_FOUND when the SKU is not in the cart. */
  setQuantity(userId: string, sku: string, quantity: number, now: Date): Promise<CartLine[]> {
    const storage = this.storageFor(userId);
    return storage.transaction(async (tx) => {
      if (!(await this.lockCart(storage, tx, userId, now, false))) throw notFound(`SKU ${sku} in the cart`);
      const changed =
        quantity === 0
          ? await storage.query<{ sku: string }>(sql`delete from cart.cart_lines where user_id = ${userId} and sku = ${sku} returning sku`, tx)
          : await storage.query<{ sku: string }>(
              sql`update cart.cart_lines set quantity = ${quantity} where user_id = ${userId} and sku = ${sku} returning sku`,
              tx,
            );
      if (changed.length === 0) throw notFound(`SKU ${sku} in the cart`);
      await this.touch(storage, tx, userId, now);
      return this.readLines(tx, userId);
    });
  }

  /** Removes a line; removing one that is not there changes nothing. */
  remove(userId: string, sku: string, now: Date): Promise<CartLine[]> {
    const storage = this.storageFor(userId);
    return storage.transaction(async (tx) => {
      if (!(await this.lockCart(storage, tx, userId, now, false))) return [];
      const removed = await storage.query<{ sku: string }>(sql`delete from cart.cart_lines where user_id = ${userId} and sku = ${sku} returning sku`, tx);
      if (removed.length > 0) await this.touch(storage, tx, userId, now);
      return this.readLines(tx, userId);
    });
  }

  /**
   * Takes an order's quantities out of the cart, once per order id: `applied` is false (and
   * nothing changes) when this order was applied before. Lines added since the checkout began
   * keep what exceeds the order's quantities.
   */
  checkedOut(userId: string, orderId: string, bought: readonly CartLine[], now: Date): Promise<{ applied: boolean; lines: CartLine[] }> {
    const storage = this.storageFor(userId);
    return storage.transaction(async (tx) => {
      await this.lockCart(storage, tx, userId, now, true);
      const recorded = await storage.query<{ order_id: string }>(
        sql`insert into cart.checked_out_orders (user_id, order_id, applied_at) values (${userId}, ${orderId}, ${at(now)})
            on conflict (user_id, order_id) do nothing
            returning order_id`,
        tx,
      );
      const before = await this.readLines(tx, userId);
      if (recorded.length === 0) return { applied: false, lines: before };
      const { remaining, removed } = afterCheckout(before, bought);
      if (removed.length > 0) {
        await storage.query(
          sql`delete from cart.cart_lines where user_id = ${userId} and sku in (${sql.join(
            removed.map((s) => sql`${s}`),
            sql`, `,
          )})`,
          tx,
        );
      }
      const previous = new Map(before.map((l) => [l.sku, l.quantity]));
      for (const line of remaining) {
        if (previous.get(line.sku) === line.quantity) continue;
        await storage.query(sql`update cart.cart_lines set quantity = ${line.quantity} where user_id = ${userId} and sku = ${line.sku}`, tx);
      }
      await this.touch(storage, tx, userId, now);
      return { applied: true, lines: await this.readLines(tx, userId) };
    });
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

  /**
   * Locks the user's cart row (creating it when `create`), the first lock of every change.
   * False when there is no cart and `create` is false.
   */
  private async lockCart(storage: Storage, tx: Tx, userId: string, now: Date, create: boolean): Promise<boolean> {
    if (create) {
      await storage.query(sql`insert into cart.carts (user_id, updated_at, version) values (${userId}, ${at(now)}, 0) on conflict (user_id) do nothing`, tx);
    }
    const rows = await storage.query<{ version: number }>(sql`select version from cart.carts where user_id = ${userId} for update`, tx);
    return rows.length > 0;
  }

  private async touch(storage: Storage, tx: Tx, userId: string, now: Date): Promise<void> {
    await storage.query(sql`update cart.carts set version = version + 1, updated_at = ${at(now)} where user_id = ${userId}`, tx);
  }

  private async readLines(executor: Executor, userId: string): Promise<CartLine[]> {
    return executor
      .select({ sku: cartLines.sku, quantity: cartLines.quantity })
      .from(cartLines)
      .where(eq(cartLines.userId, userId))
      .orderBy(asc(cartLines.addedAt), asc(cartLines.sku));
  }
}
