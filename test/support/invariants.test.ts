import { randomUUID } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '@agora/contracts/events';
import type { OrderStatus } from '@agora/contracts/order';
import { INVENTORY_MIGRATIONS } from '@agora/inventory';
import { ORDER_MIGRATIONS } from '@agora/order';
import { PAYMENT_MIGRATIONS, type PaymentStatus } from '@agora/payment';
import type { Storage } from '@agora/platform';
import { testBackends, type TestBackend } from '@agora/platform/testing';
import { checkInvariants, type InvariantReport } from './invariants.js';

/**
 * The invariant checker catches what it claims: a consistent state of the three services'
 * databases passes, and each law broken by one SQL statement is named in the report. Where the
 * schema itself makes a state impossible (a CHECK or a unique index), the test shows the schema
 * refuses it and then, with that guard dropped in a throwaway database, that the checker still sees it.
 */

const SKU_A = 'INV-A';
const SKU_B = 'INV-B';
const INITIAL_STOCK = new Map([
  [SKU_A, 10],
  [SKU_B, 5],
]);
/** How long the seeded reservations would be held; far beyond the test. */
const RESERVATION_TTL_MS = 60 * 60 * 1000;

type ReservationStatus = 'HELD' | 'COMMITTED' | 'RELEASED' | 'EXPIRED' | 'RESTOCKED';

interface OrderFixture {
  readonly status: OrderStatus;
  /** sku, quantity, unit price */
  readonly lines: readonly (readonly [string, number, number])[];
  readonly history: readonly OrderStatus[];
  readonly reservation?: ReservationStatus;
  readonly intent?: { readonly status: PaymentStatus; readonly captured: number; readonly refunded: number };
  readonly facts?: readonly string[];
}

/** A quiet shop after a few checkouts: every law holds. On hand: A 10 − 2 = 8, B 5 − 1 = 4. */
const FIXTURES = {
  sold: {
    status: 'CONFIRMED',
    lines: [[SKU_A, 2, 100]],
    history: ['PENDING', 'RESERVED', 'CONFIRMED'],
    reservation: 'COMMITTED',
    intent: { status: 'CAPTURED', captured: 200, refunded: 0 },
    facts: [EVENT_TYPES.OrderConfirmed],
  },
  alsoSold: {
    status: 'CONFIRMED',
    lines: [[SKU_B, 1, 300]],
    history: ['PENDING', 'RESERVED', 'CONFIRMED'],
    reservation: 'COMMITTED',
    intent: { status: 'CAPTURED', captured: 300, refunded: 0 },
    facts: [EVENT_TYPES.OrderConfirmed],
  },
  cancelled: {
    status: 'CANCELLED',
    lines: [[SKU_A, 1, 100]],
    history: ['PENDING', 'RESERVED', 'CONFIRMED', 'CANCELLED'],
    reservation: 'RESTOCKED',
    intent: { status: 'REFUNDED', captured: 100, refunded: 100 },
    facts: [EVENT_TYPES.OrderConfirmed, EVENT_TYPES.OrderCancelled],
  },
  rejected: { status: 'REJECTED', lines: [[SKU_B, 1, 300]], history: ['PENDING', 'REJECTED'], reservation: 'RELEASED' },
  failed: {
    status: 'PAYMENT_FAILED',
    lines: [[SKU_A, 1, 100]],
    history: ['PENDING', 'RESERVED', 'PAYMENT_FAILED'],
    reservation: 'RELEASED',
    intent: { status: 'VOIDED', captured: 0, refunded: 0 },
  },
  declined: {
    status: 'PAYMENT_FAILED',
    lines: [[SKU_B, 1, 300]],
    history: ['PENDING', 'RESERVED', 'PAYMENT_FAILED'],
    reservation: 'RELEASED',
    intent: { status: 'DECLINED', captured: 0, refunded: 0 },
  },
  expired: {
    status: 'EXPIRED',
    lines: [[SKU_A, 1, 100]],
    history: ['PENDING', 'RESERVED', 'EXPIRED'],
    reservation: 'RELEASED',
    intent: { status: 'VOIDED', captured: 0, refunded: 0 },
  },
} as const satisfies Record<string, OrderFixture>;

type OrderName = keyof typeof FIXTURES;
type OrderIds = Record<OrderName, string>;

async function openDatabase(backend: TestBackend): Promise<{ storage: Storage; release(): Promise<void> }> {
  const opened = await backend.open();
  try {
    await opened.storage.migrate('inventory', INVENTORY_MIGRATIONS);
    await opened.storage.migrate('order', ORDER_MIGRATIONS);
    await opened.storage.migrate('payment', PAYMENT_MIGRATIONS);
  } catch (err) {
    await opened.release();
    throw err;
  }
  return opened;
}

/** Empties every table the checker reads and writes the consistent state; returns the order ids. */
async function seed(storage: Storage): Promise<OrderIds> {
  await storage.query(sql`truncate orders.orders, orders.order_lines, orders.order_history, orders.outbox,
    inventory.stock, inventory.reservations, inventory.reservation_lines, inventory.flash_sales, inventory.flash_sale_tickets, payment.intents cascade`);
  const now = new Date();
  const committed = new Map<string, number>();
  const ids = {} as OrderIds;
  for (const [name, fixture] of Object.entries(FIXTURES) as [OrderName, OrderFixture][]) {
    const id = randomUUID();
    ids[name] = id;
    const total = fixture.lines.reduce((sum, [, quantity, unit]) => sum + quantity * unit, 0);
    await storage.query(sql`insert into orders.orders (id, user_id, status, currency, total_amount, idempotency_key, created_at, updated_at)
      values (${id}::uuid, ${randomUUID()}::uuid, ${fixture.status}, 'USD', ${total}, ${`checkout-${name}`}, ${now}, ${now})`);
    for (const [position, [sku, quantity, unit]] of fixture.lines.entries()) {
      await storage.query(sql`insert into orders.order_lines (order_id, position, sku, title, quantity, unit_amount, line_amount)
        values (${id}::uuid, ${position}, ${sku}, ${sku}, ${quantity}, ${unit}, ${quantity * unit})`);
      if (fixture.status === 'CONFIRMED') committed.set(sku, (committed.get(sku) ?? 0) + quantity);
    }
    for (const status of fixture.history) {
      await storage.query(sql`insert into orders.order_history (id, order_id, status, at) values (${randomUUID()}::uuid, ${id}::uuid, ${status}, ${now})`);
    }
    for (const type of fixture.facts ?? []) {
      await storage.query(sql`insert into orders.outbox (id, type, key, payload, occurred_at) values (${randomUUID()}::uuid, ${type}, ${id}, '{}'::jsonb, ${now})`);
    }
    if (fixture.reservation) {
      // The reservation id is the order id.
      await storage.query(sql`insert into inventory.reservations (id, status, expires_at) values (${id}::uuid, ${fixture.reservation}, ${new Date(now.getTime() + RESERVATION_TTL_MS)})`);
      for (const [sku, quantity] of fixture.lines) {
        await storage.query(sql`insert into inventory.reservation_lines (reservation_id, sku, quantity) values (${id}::uuid, ${sku}, ${quantity})`);
      }
    }
    if (fixture.intent) {
      const { status, captured, refunded } = fixture.intent;
      await storage.query(sql`insert into payment.intents (id, order_id, user_id, idempotency_key, request_hash, currency, amount, status, provider, provider_ref,
          captured_amount, refund_reserved, refunded_amount, created_at, updated_at)
        values (${randomUUID()}::uuid, ${id}::uuid, ${randomUUID()}::uuid, ${`authorize-${name}`}, 'hash', 'USD', ${total}, ${status}, 'sandbox', ${`sbx_ch_${name}`},
          ${captured}, ${refunded}, ${refunded}, ${now}, ${now})`);
    }
  }
  for (const [sku, initial] of INITIAL_STOCK) {
    await storage.query(sql`insert into inventory.stock (sku, on_hand, reserved) values (${sku}, ${initial - (committed.get(sku) ?? 0)}, 0)`);
  }
  return ids;
}

const check = (storage: Storage, options: { allowInFlight?: boolean } = {}): Promise<InvariantReport> =>
  checkInvariants({ inventory: storage, orders: storage, payment: storage, initialStock: INITIAL_STOCK, ...options });

/** The statement is refused by the named schema guard (CHECK constraint or unique index). */
async function expectRefusedBy(storage: Storage, statement: SQL, guard: RegExp): Promise<void> {
  const refusal = await storage.query(statement).then(
    () => undefined,
    (err: unknown) => err,
  );
  // Drizzle wraps the driver's error ("Failed query: ..."); the guard's name is in its cause.
  const messages: string[] = [];
  for (let err = refusal; err instanceof Error; err = err.cause) messages.push(err.message);
  expect(messages.join('\n')).toMatch(guard);
}

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`checkInvariants on ${backend.kind}`, () => {
    let storage: Storage;
    let release: () => Promise<void>;
    let ids: OrderIds;

    beforeAll(async () => {
      ({ storage, release } = await openDatabase(backend));
    });
    afterAll(async () => release?.());
    beforeEach(async () => {
      ids = await seed(storage);
    });

    /** Breaks the consistent state with `statement` and returns what the checker reports. */
    const broken = async (statement: SQL, options: { allowInFlight?: boolean } = {}): Promise<string[]> => {
      await storage.query(statement);
      return (await check(storage, options)).violations;
    };

    it('reports no violation for a consistent state, and sums it up', async () => {
      const report = await check(storage);
      expect(report.violations).toEqual([]);
      expect(report).toMatchObject({
        ordersByStatus: { CONFIRMED: 2, CANCELLED: 1, REJECTED: 1, PAYMENT_FAILED: 2, EXPIRED: 1 },
        committedBySku: { [SKU_A]: 2, [SKU_B]: 1 },
        captured: 600,
        refunded: 100,
        confirmedTotal: 500,
      });
    });

    it('stock on hand off by one: not conserved', async () => {
      const violations = await broken(sql`update inventory.stock set on_hand = on_hand - 1 where sku = ${SKU_A}`);
      expect(violations).toEqual([`${SKU_A}: on hand 7 but initial 10 − committed 2 = 8`]);
    });

    it('reserved ≠ the sum of HELD reservation lines', async () => {
      const violations = await broken(sql`update inventory.stock set reserved = 1 where sku = ${SKU_A}`);
      expect(violations).toEqual([`${SKU_A}: reserved 1 != 0 held by reservations`]);
    });

    for (const [name, status] of [
      ['rejected', 'REJECTED'],
      ['sold', 'CONFIRMED'],
    ] as const) {
      it(`a HELD reservation of a ${status} order (the stock still counting it as reserved)`, async () => {
        const [sku = '', quantity = 0] = FIXTURES[name].lines[0];
        // One statement: the reservation back to HELD and the stock row reserving it, so only the order link is wrong.
        const violations = await broken(sql`with held as (update inventory.reservations set status = 'HELD' where id = ${ids[name]}::uuid returning id)
          update inventory.stock set reserved = reserved + ${quantity} where sku = ${sku}`);
        expect(violations).toEqual([`reservation ${ids[name]} still HELD but its order is ${status}`]);
      });
    }

    for (const [name, orderStatus, intentStatus] of [
      ['failed', 'PAYMENT_FAILED', 'AUTHORIZED'],
      ['expired', 'EXPIRED', 'PENDING'],
    ] as const) {
      it(`an ${intentStatus} intent left on a ${orderStatus} order: the authorization was never voided`, async () => {
        const violations = await broken(sql`update payment.intents set status = ${intentStatus} where order_id = ${ids[name]}::uuid`);
        expect(violations).toEqual([`order ${ids[name]} is ${orderStatus} but 1 authorization(s) are not voided`]);
      });
    }

    it('two orders off in opposite directions: the per-order check names both, the total still matches', async () => {
      const violations = await broken(sql`update orders.orders set total_amount = 250 where id in (${ids.sold}::uuid, ${ids.alsoSold}::uuid)`);
      expect(violations).toEqual(
        expect.arrayContaining([`order ${ids.sold} is CONFIRMED: captured − refunded 200 ≠ 250`, `order ${ids.alsoSold} is CONFIRMED: captured − refunded 300 ≠ 250`]),
      );
      expect(violations).toHaveLength(2);
      expect(violations.join('\n')).not.toContain('total of CONFIRMED orders');
    });

    it('money captured on a PAYMENT_FAILED order while a CONFIRMED one was short by as much', async () => {
      // The declined order's intent becomes a capture of 300 and the second sale's capture a decline: 600 captured as before.
      const violations = await broken(sql`update payment.intents set
          status = case when order_id = ${ids.declined}::uuid then 'CAPTURED' else 'DECLINED' end,
          captured_amount = case when order_id = ${ids.declined}::uuid then 300 else 0 end
        where order_id in (${ids.declined}::uuid, ${ids.alsoSold}::uuid)`);
      expect(violations).toEqual(
        expect.arrayContaining([`order ${ids.alsoSold} is CONFIRMED: captured − refunded 0 ≠ 300`, `order ${ids.declined} is PAYMENT_FAILED: captured − refunded 300 ≠ 0`]),
      );
      expect(violations).toHaveLength(2);
    });

    it('captured − refunded ≠ the CONFIRMED total (a refund the order does not know of)', async () => {
      const violations = await broken(sql`update payment.intents set refund_reserved = 50, refunded_amount = 50 where order_id = ${ids.sold}::uuid`);
      expect(violations).toEqual([`captured 600 − refunded 150 ≠ 500 total of CONFIRMED orders`, `order ${ids.sold} is CONFIRMED: captured − refunded 150 ≠ 200`]);
    });

    for (const [name, type] of [
      ['sold', EVENT_TYPES.OrderConfirmed],
      ['cancelled', EVENT_TYPES.OrderCancelled],
    ] as const) {
      it(`a ${FIXTURES[name].status} order without its ${type} fact in the order outbox`, async () => {
        const violations = await broken(sql`delete from orders.outbox where key = ${ids[name]} and type = ${type}`);
        expect(violations).toEqual([`order ${ids[name]} is ${FIXTURES[name].status} but the order outbox has no ${type} fact`]);
      });
    }

    it('an order cancelled before it was confirmed needs no order.cancelled fact', async () => {
      const violations = await broken(sql`update orders.orders set status = 'CANCELLED' where id = ${ids.failed}::uuid`);
      expect(violations).toEqual([]);
    });

    describe('flash sales', () => {
      const FLASH_SKU = 'INV-FLASH';
      const insertSale = (id: string, sku: string, quantity: number, sold: number): SQL =>
        sql`insert into inventory.flash_sales (id, sku, quantity, sold, price_amount, currency, starts_at, ends_at, per_user_limit)
            values (${id}::uuid, ${sku}, ${quantity}, ${sold}, 100, 'USD', now() - interval '1 hour', now() + interval '1 hour', 1)`;
      const insertTicket = (saleId: string, ticketId: string, status: string): SQL =>
        sql`insert into inventory.flash_sale_tickets (ticket_id, sale_id, user_id, quantity, status) values (${ticketId}::uuid, ${saleId}::uuid, ${randomUUID()}::uuid, 1, ${status})`;
      const insertOrder = async (saleId: string, ticketId: string, status: OrderStatus): Promise<void> => {
        const now = new Date();
        await storage.query(sql`insert into orders.orders (id, user_id, status, currency, total_amount, idempotency_key, created_at, updated_at)
          values (${ticketId}::uuid, ${randomUUID()}::uuid, ${status}, 'USD', 100, ${`flash-sale:${saleId}:${ticketId}`}, ${now}, ${now})`);
        await storage.query(sql`insert into orders.order_lines (order_id, position, sku, title, quantity, unit_amount, line_amount)
          values (${ticketId}::uuid, 0, ${FLASH_SKU}, ${FLASH_SKU}, 1, 100, 100)`);
      };

      it('a sale with its units set aside from stock, one ticket taken and its order reserved: consistent', async () => {
        const sale = randomUUID();
        const ticket = randomUUID();
        await storage.query(sql`update inventory.stock set on_hand = on_hand - 3 where sku = ${SKU_A}`);
        await storage.query(insertSale(sale, SKU_A, 3, 1));
        await storage.query(insertTicket(sale, ticket, 'TAKEN'));
        await insertOrder(sale, ticket, 'RESERVED');
        expect((await check(storage, { allowInFlight: true })).violations).toEqual([]);
      });

      it('units set aside for a sale that stock never gave up: not conserved', async () => {
        const violations = await broken(insertSale(randomUUID(), SKU_A, 3, 0));
        expect(violations.join('\n')).toMatch(new RegExp(`${SKU_A}: on hand 8 but .* set aside for flash sales 3 = 5`));
      });

      it("a sale's sold ≠ the units of its taken tickets", async () => {
        const sale = randomUUID();
        const violations = await broken(insertSale(sale, FLASH_SKU, 5, 2));
        expect(violations).toContain(`flash sale ${sale}: sold 2 ≠ 0 units of its taken and paid tickets`);
      });

      it('orders of a sale holding more units than it sold (an oversell), even with orders in flight', async () => {
        const sale = randomUUID();
        await storage.query(insertSale(sale, FLASH_SKU, 1, 0));
        await insertOrder(sale, randomUUID(), 'RESERVED');
        expect((await check(storage, { allowInFlight: true })).violations).toContain(`flash sale ${sale}: sold 0 but its live orders hold 1 units`);
      });

      it('an accepted ticket without its order: named once the system is quiet, not while orders are in flight', async () => {
        const sale = randomUUID();
        const ticket = randomUUID();
        await storage.query(insertSale(sale, FLASH_SKU, 1, 1));
        await storage.query(insertTicket(sale, ticket, 'TAKEN'));
        expect((await check(storage)).violations).toContain(`flash-sale ticket ${ticket} was accepted but has 0 orders`);
        expect((await check(storage, { allowInFlight: true })).violations).toEqual([]);
      });

      it('a flash-sale order for a ticket the database refused', async () => {
        const sale = randomUUID();
        const ticket = randomUUID();
        await storage.query(insertSale(sale, FLASH_SKU, 1, 0));
        await storage.query(insertTicket(sale, ticket, 'REFUSED'));
        await insertOrder(sale, ticket, 'EXPIRED');
        expect((await check(storage)).violations).toEqual([`flash-sale order ${ticket} has no accepted ticket`]);
      });
    });

    describe('what clients were told (a chaos run\'s history)', () => {
      const told = (answers: { orderId: string; status: string; op: string }[]) =>
        checkInvariants({ inventory: storage, orders: storage, payment: storage, initialStock: INITIAL_STOCK, answers });

      it('a 2xx answer naming an order that does not exist', async () => {
        const ghost = randomUUID();
        expect((await told([{ orderId: ghost, status: 'CONFIRMED', op: 'checkout' }])).violations).toEqual([
          `checkout answered 2xx with order ${ghost} (CONFIRMED), which does not exist`,
        ]);
      });

      it('a final status told that no longer holds; CONFIRMED then CANCELLED and an in-flight status are fine', async () => {
        const report = await told([
          { orderId: ids.failed, status: 'CONFIRMED', op: 'checkout' },
          { orderId: ids.cancelled, status: 'CONFIRMED', op: 'checkout' },
          { orderId: ids.sold, status: 'PENDING', op: 'checkout' },
          { orderId: ids.rejected, status: 'REJECTED', op: 'checkout' },
        ]);
        expect(report.violations).toEqual([`checkout answered order ${ids.failed} CONFIRMED, but it is PAYMENT_FAILED`]);
      });
    });

    it('an order still in flight: named unless in-flight orders are allowed', async () => {
      await storage.query(sql`insert into orders.orders (id, user_id, status, currency, total_amount, idempotency_key, created_at, updated_at)
        values (${randomUUID()}::uuid, ${randomUUID()}::uuid, 'RESERVED', 'USD', 100, 'checkout-in-flight', now(), now())`);
      expect((await check(storage)).violations).toEqual(['1 orders still PENDING/RESERVED']);
      expect((await check(storage, { allowInFlight: true })).violations).toEqual([]);
    });

    describe('states the schema refuses; the checker still names them with the guard dropped', () => {
      let scratch: { storage: Storage; release(): Promise<void> } | undefined;
      let scratchIds: OrderIds;
      beforeEach(async () => {
        scratch = await openDatabase(backend);
        scratchIds = await seed(scratch.storage);
      });
      afterEach(async () => {
        await scratch?.release();
        scratch = undefined;
      });
      const db = (): Storage => {
        if (!scratch) throw new Error('no scratch database');
        return scratch.storage;
      };

      it('negative stock: refused by the CHECKs on inventory.stock; without them, named', async () => {
        const negative = sql`update inventory.stock set on_hand = -1 where sku = ${SKU_B}`;
        await expectRefusedBy(db(), negative, /stock_on_hand_non_negative|stock_reserved_within_on_hand/);
        await db().query(sql`alter table inventory.stock drop constraint stock_on_hand_non_negative, drop constraint stock_reserved_within_on_hand`);
        await db().query(negative);
        const { violations } = await check(db());
        expect(violations).toEqual(expect.arrayContaining([`${SKU_B}: on hand -1 < 0`]));
      });

      it('an order in an unknown status: refused by CHECK orders_status_known; without it, named', async () => {
        const unknown = sql`update orders.orders set status = 'SHIPPED' where id = ${scratchIds.rejected}::uuid`;
        await expectRefusedBy(db(), unknown, /orders_status_known/);
        await db().query(sql`alter table orders.orders drop constraint orders_status_known`);
        await db().query(unknown);
        expect((await check(db())).violations).toEqual(['orders in unknown status SHIPPED']);
      });

      it('an order captured twice: refused by the unique indexes on captures per order; without them, named', async () => {
        const second = sql`insert into payment.intents (id, order_id, user_id, idempotency_key, request_hash, currency, amount, status, provider, provider_ref,
            captured_amount, refund_reserved, refunded_amount, created_at, updated_at)
          values (${randomUUID()}::uuid, ${scratchIds.sold}::uuid, ${randomUUID()}::uuid, 'authorize-again', 'hash', 'USD', 200, 'CAPTURED', 'sandbox', 'sbx_ch_again',
            200, 0, 0, now(), now())`;
        // Two indexes refuse it (captured per order, and capture claims per order); either may be checked first.
        await expectRefusedBy(db(), second, /intents_one_capture(_claim)?_per_order/);
        await db().query(sql`drop index payment.intents_one_capture_per_order`);
        await expectRefusedBy(db(), second, /intents_one_capture_claim_per_order/);
        await db().query(sql`drop index payment.intents_one_capture_claim_per_order`);
        await db().query(second);
        expect((await check(db())).violations).toEqual(expect.arrayContaining([`order ${scratchIds.sold} captured 2 times`]));
      });
    });
  });
}
