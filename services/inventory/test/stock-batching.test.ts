import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { newId } from '@agora/kernel';
import type { Storage } from '@agora/platform';
import { testBackends } from '@agora/platform/testing';
import { inventoryModule, inventoryTotals, inventoryViolations } from '../src/index.js';
import type { ReservationLine } from '../src/domain/reservation.js';
import { ReservationStore, type ReserveOutcome } from '../src/store/reservation-store.js';
import { StockStore } from '../src/store/stock-store.js';

/**
 * Reserves and commits coalesced into batch transactions, on real PostgreSQL (real row locks,
 * real concurrency, several store instances) and on PGlite: the same answers and the same stock
 * as one transaction per operation, with fewer transactions than operations.
 */

let skuCounter = 0;
const freshSku = (tag: string): string => `B-${tag}-${++skuCounter}-${Date.now().toString(36)}`;
const TTL_MS = 600_000;

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`stock batching on ${backend.kind}`, () => {
    let storage: Storage;
    let release: () => Promise<void>;
    let stock: StockStore;

    beforeAll(async () => {
      const opened = await backend.open();
      storage = opened.storage;
      release = opened.release;
      await storage.migrate('inventory', inventoryModule.migrationsFolder ?? '');
      stock = new StockStore(storage);
    });
    afterAll(async () => {
      await release();
    });

    const reserveVia = (store: ReservationStore, lines: ReservationLine[], id = newId()): Promise<ReserveOutcome> => {
      const now = new Date();
      return store.reserve(id, lines, new Date(now.getTime() + TTL_MS), now);
    };
    const level = async (sku: string): Promise<{ onHand: number; reserved: number }> => {
      const found = await stock.get(sku);
      if (!found) throw new Error(`no stock row for ${sku}`);
      return { onHand: found.onHand, reserved: found.reserved };
    };
    const expectInvariants = async (): Promise<void> => {
      expect(inventoryViolations(await inventoryTotals(storage))).toEqual([]);
    };
    /** StockChanged facts written for a SKU, oldest first. */
    const facts = async (sku: string): Promise<{ onHand: number; reserved: number; reason: string }[]> => {
      const rows = await storage.query<{ payload: { onHand: number; reserved: number; reason: string } }>(
        sql`select payload from inventory.outbox where key = ${sku} order by occurred_at, payload->>'reserved'`,
      );
      return rows.map((r) => ({ onHand: r.payload.onHand, reserved: r.payload.reserved, reason: r.payload.reason }));
    };
    const count = (outcomes: readonly ReserveOutcome[], kind: ReserveOutcome['kind']): number => outcomes.filter((o) => o.kind === kind).length;

    it('200 concurrent reserves of 1 unit for 40: exactly 40 held, in fewer transactions than operations', async () => {
      const sku = freshSku('hot');
      await stock.setOnHand(sku, 40);
      const store = new ReservationStore(storage);
      // Bursts of ten per turn of the event loop, as requests arrive: on PostgreSQL most land while a
      // batch is in flight; PGlite answers within a turn, so only a burst shares a batch there.
      const pending: Promise<ReserveOutcome>[] = [];
      for (let i = 0; i < 200; i++) {
        pending.push(reserveVia(store, [{ sku, quantity: 1 }]));
        if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
      }
      const outcomes = await Promise.all(pending);
      expect(count(outcomes, 'held')).toBe(40);
      expect(count(outcomes, 'short')).toBe(160);
      expect(outcomes.filter((o) => o.kind === 'short').every((o) => o.kind === 'short' && o.skus.join() === sku)).toBe(true);
      expect(await level(sku)).toEqual({ onHand: 40, reserved: 40 });
      await expectInvariants();

      const stats = store.batchStats;
      expect(stats.fallbacks).toBe(0);
      expect(stats.batchedOps).toBe(200);
      expect(stats.batches).toBeLessThan(200);
      expect(stats.largestBatch).toBeGreaterThan(1);
      // One fact per SKU per batch that moved it, each with the row's level after that batch.
      const reserved = (await facts(sku)).filter((f) => f.reason === 'reserved');
      expect(reserved.length).toBeLessThan(40);
      expect(reserved.at(-1)).toEqual({ onHand: 40, reserved: 40, reason: 'reserved' });
    });

    it('commits racing new reserves on the same SKU: commits all move, reserves take what is left', async () => {
      const sku = freshSku('mix');
      await stock.setOnHand(sku, 100);
      const store = new ReservationStore(storage);
      const first = await Promise.all(Array.from({ length: 60 }, () => reserveVia(store, [{ sku, quantity: 1 }])));
      const heldIds = first.flatMap((o) => (o.kind === 'held' ? [o.reservation.id] : []));
      expect(heldIds).toHaveLength(60);
      const before = store.batchStats;

      const [commits, second] = await Promise.all([
        Promise.all(heldIds.map((id) => store.transition(id, 'commit', new Date()))),
        Promise.all(Array.from({ length: 60 }, () => reserveVia(store, [{ sku, quantity: 1 }]))),
      ]);
      expect(commits.every((c) => c.moved && c.reservation.status === 'COMMITTED' && c.reservation.lines.length === 1)).toBe(true);
      expect(count(second, 'held')).toBe(40);
      expect(count(second, 'short')).toBe(20);
      expect(await level(sku)).toEqual({ onHand: 40, reserved: 40 });
      // A replayed commit is not moved again, batched or not.
      const replays = await Promise.all(heldIds.slice(0, 5).map((id) => store.transition(id, 'commit', new Date())));
      expect(replays.map((r) => [r.moved, r.reservation?.status])).toEqual(Array.from({ length: 5 }, () => [false, 'COMMITTED']));
      expect(await level(sku)).toEqual({ onHand: 40, reserved: 40 });
      await expectInvariants();

      const after = store.batchStats;
      expect(after.fallbacks).toBe(0);
      expect(after.batches - before.batches).toBeLessThan(125);
      expect((await facts(sku)).some((f) => f.reason === 'reserved and committed' || f.reason === 'committed')).toBe(true);
    });

    it('several instances (stores) and multi-line reservations in opposite orders: no deadlock, stock conserved', async () => {
      const [x, y, z] = [freshSku('x'), freshSku('y'), freshSku('z')];
      for (const sku of [x, y, z]) await stock.setOnHand(sku, 90);
      const stores = [new ReservationStore(storage), new ReservationStore(storage), new ReservationStore(storage)];
      const orders = [
        [x, y, z],
        [z, y, x],
        [y, z],
      ];
      // Lines go in sorted, as the app normalises them; the order the buyer named varies.
      const lines = (i: number): ReservationLine[] => [...(orders[i % orders.length] ?? [])].sort().map((sku) => ({ sku, quantity: 1 }));
      const storeFor = (i: number): ReservationStore => stores[i % stores.length] ?? new ReservationStore(storage);
      const outcomes = await Promise.all(Array.from({ length: 150 }, (_, i) => reserveVia(storeFor(i), lines(i))));
      const held = outcomes.flatMap((o) => (o.kind === 'held' ? [o.reservation] : []));
      const commits = await Promise.all(held.filter((_, i) => i % 2 === 0).map((r, i) => storeFor(i).transition(r.id, 'commit', new Date())));
      expect(commits.every((c) => c.moved)).toBe(true);
      const units = (sku: string, list: readonly { lines: ReservationLine[] }[]): number =>
        list.reduce((n, r) => n + (r.lines.find((l) => l.sku === sku)?.quantity ?? 0), 0);
      const committed = held.filter((_, i) => i % 2 === 0);
      for (const sku of [x, y, z]) {
        expect(await level(sku)).toEqual({ onHand: 90 - units(sku, committed), reserved: units(sku, held) - units(sku, committed) });
      }
      // Available stock only ran out if someone was refused.
      const shortSkus = new Set(outcomes.flatMap((o) => (o.kind === 'short' ? o.skus : [])));
      for (const sku of [x, y, z]) if (shortSkus.has(sku)) expect(units(sku, held)).toBe(90);
      await expectInvariants();
      expect(stores.every((s) => s.batchStats.fallbacks === 0)).toBe(true);
    });

    it('concurrent reserves of one id hold stock once (the batch defers the duplicates)', async () => {
      const sku = freshSku('same');
      await stock.setOnHand(sku, 50);
      const store = new ReservationStore(storage);
      const id = newId();
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => reserveVia(store, [{ sku, quantity: 2 }], id)));
      expect(count(outcomes, 'held')).toBe(1);
      expect(count(outcomes, 'existing')).toBe(19);
      expect(await level(sku)).toEqual({ onHand: 50, reserved: 2 });
      await expectInvariants();
    });

    it('a batch that fails falls back to one transaction per operation: every caller still gets its own answer', async () => {
      const [sku, other] = [freshSku('fb'), freshSku('fb-other')];
      await stock.setOnHand(sku, 10);
      await stock.setOnHand(other, 5);
      const plain = new ReservationStore(storage);
      const toCommit = await Promise.all(Array.from({ length: 3 }, () => reserveVia(plain, [{ sku: other, quantity: 1 }])));
      const replayed = await reserveVia(plain, [{ sku: other, quantity: 1 }]);
      const idOf = (o: ReserveOutcome): string => {
        if (o.kind !== 'held') throw new Error(`setup: expected a hold, got ${o.kind}`);
        return o.reservation.id;
      };
      const factsBefore = (await facts(sku)).length;

      let fired = 0;
      const store = new ReservationStore(storage, {
        batchFaults: {
          beforeCommit: () => {
            if (fired++ === 0) throw new Error('injected batch failure');
          },
        },
      });
      // Submitted in one tick: they all land in the first batch, the one that fails.
      const [singles, multi, replay, commits] = await Promise.all([
        Promise.all(Array.from({ length: 25 }, () => reserveVia(store, [{ sku, quantity: 1 }]))),
        reserveVia(store, [{ sku, quantity: 1 }, { sku: other, quantity: 1 }].sort((a, b) => (a.sku < b.sku ? -1 : 1))),
        reserveVia(store, [{ sku: other, quantity: 1 }], idOf(replayed)),
        Promise.all(toCommit.map((o) => store.transition(idOf(o), 'commit', new Date()))),
      ]);
      expect(fired).toBe(1);
      expect(store.batchStats).toMatchObject({ fallbacks: 1, batches: 0 });

      // Ten units of `sku`, taken in arrival order by the first ten single-unit reservations.
      expect(singles.map((o) => o.kind)).toEqual([...Array.from({ length: 10 }, () => 'held'), ...Array.from({ length: 15 }, () => 'short')]);
      expect(multi).toEqual({ kind: 'short', skus: [sku] });
      expect(replay).toMatchObject({ kind: 'existing', reservation: { id: idOf(replayed), status: 'HELD' } });
      expect(commits.map((c) => [c.moved, c.reservation?.status])).toEqual(Array.from({ length: 3 }, () => [true, 'COMMITTED']));
      expect(await level(sku)).toEqual({ onHand: 10, reserved: 10 });
      expect(await level(other)).toEqual({ onHand: 2, reserved: 1 });
      await expectInvariants();
      // The failed batch left nothing behind: the facts are the single path's, one per hold.
      expect((await facts(sku)).length - factsBefore).toBe(10);

      // The next batch runs as a batch again.
      expect(await Promise.all([reserveVia(store, [{ sku: other, quantity: 1 }]), reserveVia(store, [{ sku: other, quantity: 1 }])])).toMatchObject([{ kind: 'held' }, { kind: 'short' }]);
      expect(store.batchStats).toMatchObject({ fallbacks: 1, batches: 1 });
    });

    it('one bad operation fails alone: its batch falls back and its neighbours get their answers', async () => {
      const sku = freshSku('bad');
      await stock.setOnHand(sku, 3);
      const store = new ReservationStore(storage);
      const settled = await Promise.allSettled([
        reserveVia(store, [{ sku, quantity: 1 }]),
        // Not a UUID: fails the batch's insert, then its own single transaction, and nothing else.
        reserveVia(store, [{ sku, quantity: 1 }], 'not-a-uuid'),
        reserveVia(store, [{ sku, quantity: 2 }]),
        reserveVia(store, [{ sku, quantity: 1 }]),
      ]);
      expect(settled.map((s) => (s.status === 'fulfilled' ? s.value.kind : 'error'))).toEqual(['held', 'error', 'held', 'short']);
      expect(store.batchStats).toMatchObject({ fallbacks: 1, batches: 0 });
      expect(await level(sku)).toEqual({ onHand: 3, reserved: 3 });
      await expectInvariants();
    });
  });
}
