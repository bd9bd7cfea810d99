import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type SQL } from 'drizzle-orm';
import { newId } from '@agora/kernel';
import { PostgresStorage, SingleShardRouter, type Executor, type Storage, type Tx } from '@agora/platform';
import { createTestDatabase, postgresBackend } from '@agora/platform/testing';
import { CART_MIGRATIONS, CartStore } from '../src/index.js';

/** Round trips the store makes: raw statements, transactions, and drizzle queries through `db`. */
class CountingStorage implements Storage {
  statements = 0;
  transactions = 0;
  constructor(private readonly inner: Storage) {}
  get kind() {
    return this.inner.kind;
  }
  get db() {
    this.statements++;
    return this.inner.db;
  }
  migrate(service: string, folder: string): Promise<void> {
    return this.inner.migrate(service, folder);
  }
  query<Row>(statement: SQL, executor?: Executor): Promise<Row[]> {
    this.statements++;
    return this.inner.query<Row>(statement, executor);
  }
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    this.transactions++;
    return this.inner.transaction(work);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** More connections than the racing statements, so every one of them holds its snapshot at once. */
const POOL_FOR_RACES = 30;
const WAIT_POLL_MS = 10;
const WAIT_LIMIT_MS = 5_000;

/**
 * Real PostgreSQL only: the races below need concurrent connections, and a gate (another
 * connection holding the cart row's lock) that makes every racing statement take its snapshot
 * before any of them commits, the case a snapshot-based limit check would get wrong.
 */
describe.runIf(await postgresBackend.available())('cart changes as one statement, on postgres', () => {
  let database: { url: string; drop(): Promise<void> };
  let storage: CountingStorage;
  let store: CartStore;
  /** Other connections: one holds the gate's transaction, one watches pg_stat_activity from outside it. */
  let side: Storage;
  const now = new Date('2026-01-01T00:00:00Z');

  beforeAll(async () => {
    database = await createTestDatabase('agora_cart');
    storage = new CountingStorage(new PostgresStorage({ url: database.url, poolMax: POOL_FOR_RACES }));
    await storage.migrate('cart', CART_MIGRATIONS);
    store = new CartStore(new SingleShardRouter(storage));
    side = new PostgresStorage({ url: database.url, poolMax: 2 });
  });
  afterAll(async () => {
    await side.close();
    await storage.close();
    await database.drop();
  });

  const cartRow = async (userId: string) =>
    (
      await storage.query<{ version: number; line_count: number; lines: number }>(
        sql`select version, line_count, (select count(*)::int from cart.cart_lines where user_id = ${userId}) as lines from cart.carts where user_id = ${userId}`,
      )
    )[0];

  const waitingOnLocks = async (): Promise<number> =>
    (
      await side.query<{ n: number }>(
        sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
      )
    )[0]?.n ?? 0;

  const untilWaiting = async (count: number): Promise<void> => {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    while ((await waitingOnLocks()) < count) {
      if (Date.now() > deadline) throw new Error(`fewer than ${count} statements waited on the gate`);
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    }
  };

  /** Locks the user's cart row in a transaction of its own until `open` is called. */
  const closeGate = async (userId: string): Promise<{ open(): Promise<void> }> => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holding = side.transaction(async (tx) => {
      await side.query(sql`select 1 from cart.carts where user_id = ${userId} for update`, tx);
      locked();
      await opened;
    });
    await Promise.race([isLocked, holding]);
    return {
      open: async () => {
        open();
        await holding;
      },
    };
  };

  /** Launches statements behind a closed gate; opens it once `waiting` of them wait on locks. */
  const behindGate = async <T>(userId: string, waiting: number, start: () => Promise<T>[]): Promise<PromiseSettledResult<T>[]> => {
    const gate = await closeGate(userId);
    const racing = Promise.allSettled(start());
    try {
      await untilWaiting(waiting);
    } finally {
      await gate.open();
    }
    return racing;
  };

  it('adds, sets, removes, checks out and reads in one round trip each, without BEGIN', async () => {
    const userId = newId();
    const cost = async (work: () => Promise<unknown>): Promise<[number, number]> => {
      const [statements, transactions] = [storage.statements, storage.transactions];
      await work();
      return [storage.statements - statements, storage.transactions - transactions];
    };
    expect(await cost(() => store.add(userId, 'A', 2, now))).toEqual([1, 0]);
    expect(await cost(() => store.add(userId, 'A', 1, now))).toEqual([1, 0]);
    expect(await cost(() => store.add(userId, 'B', 1, now))).toEqual([1, 0]);
    expect(await cost(() => store.setQuantity(userId, 'B', 4, now))).toEqual([1, 0]);
    expect(await cost(() => store.remove(userId, 'B', now))).toEqual([1, 0]);
    expect(await cost(() => store.lines(userId))).toEqual([1, 0]);
    expect(await cost(() => store.checkedOut(userId, newId(), [{ sku: 'A', quantity: 1 }], now))).toEqual([1, 0]);
    expect(await store.lines(userId)).toEqual([{ sku: 'A', quantity: 2 }]);
    // Six changes, each one version; line_count follows the lines.
    expect(await cartRow(userId)).toEqual({ version: 6, line_count: 1, lines: 1 });
  });

  it('answers the lines as written, in the order first added', async () => {
    const userId = newId();
    await store.add(userId, 'Z', 1, now);
    await store.add(userId, 'Y', 1, new Date(now.getTime() + 1));
    expect(await store.add(userId, 'Z', 2, new Date(now.getTime() + 2))).toEqual([
      { sku: 'Z', quantity: 3 },
      { sku: 'Y', quantity: 1 },
    ]);
    expect(await store.setQuantity(userId, 'Z', 0, now)).toEqual([{ sku: 'Y', quantity: 1 }]);
    expect(await cartRow(userId)).toEqual({ version: 4, line_count: 1, lines: 1 });
  });

  it('holds the 100-line limit when every racing add took its snapshot before any committed', async () => {
    const userId = newId();
    for (let i = 0; i < 95; i++) await store.add(userId, `PRE-${i}`, 1, now);
    const results = await behindGate(userId, 20, () => Array.from({ length: 20 }, (_, i) => store.add(userId, `NEW-${i}`, 1, now)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    expect(refused).toHaveLength(15);
    for (const reason of refused) expect(reason).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'sku' }] });
    expect(await cartRow(userId)).toEqual({ version: 100, line_count: 100, lines: 100 });
  });

  it('loses no unit and never passes 99 when merges of one SKU race', async () => {
    const userId = newId();
    await store.add(userId, 'M', 10, now);
    // One merge waits on the gate holding the line; the other eleven wait on that line.
    const results = await behindGate(userId, 12, () => Array.from({ length: 12 }, () => store.add(userId, 'M', 10, now)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(8);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    expect(refused).toHaveLength(4);
    for (const reason of refused) expect(reason).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'quantity' }] });
    expect(await store.lines(userId)).toEqual([{ sku: 'M', quantity: 90 }]);
    expect(await cartRow(userId)).toEqual({ version: 9, line_count: 1, lines: 1 });
  });

  it('subtracts a checkout from an add that committed while the checkout waited', async () => {
    const userId = newId();
    await store.add(userId, 'A', 3, now);
    await store.add(userId, 'B', 1, now);
    const gate = await closeGate(userId);
    const racing: Promise<unknown>[] = [];
    try {
      racing.push(store.add(userId, 'A', 2, now));
      await untilWaiting(1);
      // The checkout's snapshot holds A:3; the add's A:5 commits while the checkout waits on line A.
      racing.push(store.checkedOut(userId, newId(), [{ sku: 'A', quantity: 3 }], now));
      await untilWaiting(2);
    } finally {
      await gate.open();
    }
    const results = await Promise.allSettled(racing);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(results[1]).toMatchObject({ value: { applied: true, lines: [{ sku: 'A', quantity: 2 }, { sku: 'B', quantity: 1 }] } });
    expect(await store.lines(userId)).toEqual([
      { sku: 'A', quantity: 2 },
      { sku: 'B', quantity: 1 },
    ]);
    expect(await cartRow(userId)).toEqual({ version: 4, line_count: 2, lines: 2 });
  });

  it('applies one order once when its checkouts race, removing lines bought out', async () => {
    const userId = newId();
    await store.add(userId, 'A', 2, now);
    await store.add(userId, 'B', 1, now);
    const orderId = newId();
    const bought = [
      { sku: 'A', quantity: 2 },
      { sku: 'B', quantity: 1 },
    ];
    const results = await behindGate(userId, 3, () => [1, 2, 3].map(() => store.checkedOut(userId, orderId, bought, now)));
    const outcomes = results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason));
    expect(outcomes.filter((o) => (o as { applied?: boolean }).applied === true)).toHaveLength(1);
    expect(outcomes.filter((o) => (o as { applied?: boolean }).applied === false)).toHaveLength(2);
    for (const o of outcomes) expect(o).toMatchObject({ lines: [] });
    expect(await cartRow(userId)).toEqual({ version: 3, line_count: 0, lines: 0 });
  });
});
