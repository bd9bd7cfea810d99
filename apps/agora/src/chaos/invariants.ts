import { sql } from 'drizzle-orm';
import { EVENT_TYPES } from '@agora/contracts/events';
import { ORDER_STATUSES, type OrderStatus } from '@agora/contracts/order';
import { inventoryTotals, inventoryViolations } from '@agora/inventory';
import { paymentInvariantViolations, paymentTotals, type PaymentStatus } from '@agora/payment';
import type { Storage } from '@agora/platform';

export interface InvariantInput {
  inventory: Storage;
  /** The order database, or every order shard (an order must be on exactly one). */
  orders: Storage | readonly Storage[];
  payment: Storage;
  /** On hand per SKU before the scenario; only these SKUs are checked for conservation. */
  initialStock: ReadonlyMap<string, number>;
  /** Orders may still be PENDING/RESERVED (e.g. an asynchronous payment pending). */
  allowInFlight?: boolean;
  /** Orders clients were told of in a 2xx answer, with the status the answer gave (a chaos run's history). */
  answers?: readonly OrderAnswer[];
}

/** A 2xx answer naming an order: it must exist, and a final status it gave must still hold. */
export interface OrderAnswer {
  orderId: string;
  status: string;
  /** What was asked (checkout, cancel, pay): named in a violation. */
  op: string;
}

export interface InvariantReport {
  violations: string[];
  ordersByStatus: Record<string, number>;
  committedBySku: Record<string, number>;
  captured: number;
  refunded: number;
  confirmedTotal: number;
}

/** A checkout still running: its stock may be held and its payment authorized. */
const IN_FLIGHT: readonly OrderStatus[] = ['PENDING', 'RESERVED'];
/** Where an order ends; its reservation is COMMITTED (CONFIRMED) or given back, never HELD. */
const TERMINAL: readonly OrderStatus[] = ORDER_STATUSES.filter((s) => !IN_FLIGHT.includes(s));
/** What may follow a final status a client was told: only a cancellation after a sale. */
const LATER_STATUSES: Readonly<Partial<Record<OrderStatus, readonly OrderStatus[]>>> = { CONFIRMED: ['CONFIRMED', 'CANCELLED'] };
/** Tickets the database accepted: each became exactly one order (REFUSED ones none). */
const ACCEPTED_TICKETS = ['TAKEN', 'PAID', 'RETURNED'] as const;
/** Terminal without the sale: no authorization may still hold the shopper's money. */
const UNSOLD: readonly OrderStatus[] = TERMINAL.filter((s) => s !== 'CONFIRMED');
/** Intent statuses that hold money at the provider until captured or voided. */
const HOLDING: readonly PaymentStatus[] = ['AUTHORIZED', 'PENDING'];
/**
 * The order outbox deletes published facts older than this (OUTBOX_DEFAULTS.retentionHours in
 * packages/platform/src/messaging/outbox.ts): an order last changed before that may lack its fact.
 */
const OUTBOX_RETENTION_HOURS = 24;
/** How a flash-sale order's Idempotency-Key begins (`flash-sale:<sale>:<ticket>`, packages/contracts/src/flash-sale.ts). */
const FLASH_SALE_KEY_PREFIX = 'flash-sale:';

interface OrderRow {
  id: string;
  status: string;
  total: number;
  /** The order changed within the outbox retention, so its facts must still be there. */
  recent: boolean;
  /** Its history has a CONFIRMED entry (a CANCELLED order that had been sold). */
  wasConfirmed: boolean;
}

interface IntentRow {
  orderId: string;
  status: string;
  net: number;
}

/**
 * The system's conservation laws, checked from the databases themselves (each service's own,
 * joined here, since services may live in separate databases). Tests and `agora chaos` share it:
 * - stock: on hand = initial − units of CONFIRMED checkout orders − units set aside for flash sales, never negative; reserved = the sum of
 *   HELD reservation lines; no HELD reservation of a terminal order (the reservation id is the
 *   order id);
 * - money: no order captured twice; captured − refunded = totals of CONFIRMED orders, and per
 *   order: its total if CONFIRMED, 0 in any other terminal status; no authorization (AUTHORIZED
 *   or PENDING intent) left on an order that ended without the sale;
 * - facts: an `order.confirmed` in the order outbox for every CONFIRMED order, an
 *   `order.cancelled` for every CANCELLED order that had been confirmed;
 * - every order in a legal status, and none stuck in flight once the system is quiet;
 * - flash sales: stock also lost each sale's set-aside; a sale's `sold` = its taken and paid
 *   tickets = (when quiet) the units of its live orders, never above its quantity; every ticket
 *   the database accepted has exactly one order (when quiet; never more), and no flash-sale order
 *   lacks an accepted ticket;
 * - what clients were told: every order a 2xx answer named exists, and a final status it gave
 *   still holds (or, for CONFIRMED, became CANCELLED).
 */
export async function checkInvariants(input: InvariantInput): Promise<InvariantReport> {
  const violations: string[] = [];
  const shards: readonly Storage[] = Array.isArray(input.orders) ? input.orders : [input.orders as Storage];
  const perShard = await Promise.all(shards.map(readOrders));
  const orders = perShard.flat();
  const byId = new Map(orders.map((o) => [o.id, o]));
  // Sharding: an order lives on one shard; a copy on a second is a move that duplicated it.
  if (byId.size !== orders.length) violations.push(`${orders.length - byId.size} order(s) on more than one shard`);
  const ordersByStatus: Record<string, number> = {};
  for (const order of orders) ordersByStatus[order.status] = (ordersByStatus[order.status] ?? 0) + 1;

  violations.push(...statusViolations(ordersByStatus, input.allowInFlight ?? false));
  const stock = await stockViolations(input, shards, byId);
  violations.push(...stock.violations);
  const money = await moneyViolations(input.payment, [...byId.values()]);
  violations.push(...money.violations);
  violations.push(...(await outboxViolations(shards, [...byId.values()])));
  violations.push(...(await flashSaleViolations(input.inventory, shards, input.allowInFlight ?? false)));
  violations.push(...answerViolations(input.answers ?? [], byId));

  return {
    violations,
    ordersByStatus,
    committedBySku: stock.committedBySku,
    captured: money.captured,
    refunded: money.refunded,
    confirmedTotal: money.confirmedTotal,
  };
}

async function readOrders(storage: Storage): Promise<OrderRow[]> {
  const rows = await storage.query<{ id: string; status: string; total: string | number; recent: boolean; was_confirmed: boolean }>(sql`
    select o.id::text as id, o.status, o.total_amount as total,
      o.updated_at > now() - make_interval(hours => ${OUTBOX_RETENTION_HOURS}) as recent,
      exists (select 1 from orders.order_history h where h.order_id = o.id and h.status = 'CONFIRMED') as was_confirmed
    from orders.orders o`);
  return rows.map((r) => ({ id: r.id, status: r.status, total: Number(r.total), recent: r.recent, wasConfirmed: r.was_confirmed }));
}

function statusViolations(ordersByStatus: Record<string, number>, allowInFlight: boolean): string[] {
  const violations: string[] = [];
  const legal = new Set<string>(ORDER_STATUSES);
  for (const status of Object.keys(ordersByStatus)) if (!legal.has(status)) violations.push(`orders in unknown status ${status}`);
  if (!allowInFlight) {
    const inFlight = IN_FLIGHT.reduce((n, s) => n + (ordersByStatus[s] ?? 0), 0);
    if (inFlight > 0) violations.push(`${inFlight} orders still PENDING/RESERVED`);
  }
  return violations;
}

async function stockViolations(
  input: InvariantInput,
  shards: readonly Storage[],
  orders: ReadonlyMap<string, OrderRow>,
): Promise<{ violations: string[]; committedBySku: Record<string, number> }> {
  const totals = await inventoryTotals(input.inventory);
  const violations = inventoryViolations(totals);
  const onHand = new Map(totals.map((t) => [t.sku, t.onHand]));

  const committedBySku: Record<string, number> = {};
  for (const shard of shards) {
    // Flash-sale orders take their units from their sale's set-aside, not from stock (below).
    const committedRows = await shard.query<{ sku: string; units: number }>(sql`
      select l.sku, sum(l.quantity)::int as units from orders.order_lines l join orders.orders o on o.id = l.order_id
      where o.status = 'CONFIRMED' and o.idempotency_key not like ${`${FLASH_SALE_KEY_PREFIX}%`} group by l.sku`);
    for (const r of committedRows) committedBySku[r.sku] = (committedBySku[r.sku] ?? 0) + r.units;
  }
  const setAside = new Map<string, number>();
  for (const r of await input.inventory.query<{ sku: string; units: number }>(sql`select sku, sum(quantity)::int as units from inventory.flash_sales group by sku`)) {
    setAside.set(r.sku, Number(r.units));
  }
  for (const [sku, initial] of input.initialStock) {
    const aside = setAside.get(sku) ?? 0;
    const expected = initial - (committedBySku[sku] ?? 0) - aside;
    const actual = onHand.get(sku);
    const asideText = aside > 0 ? ` − set aside for flash sales ${aside}` : '';
    if (actual !== expected) violations.push(`${sku}: on hand ${actual} but initial ${initial} − committed ${committedBySku[sku] ?? 0}${asideText} = ${expected}`);
  }

  const held = await input.inventory.query<{ id: string }>(sql`select id::text as id from inventory.reservations where status = 'HELD'`);
  for (const { id } of held) {
    const order = orders.get(id);
    if (order && TERMINAL.includes(order.status as OrderStatus)) violations.push(`reservation ${id} still HELD but its order is ${order.status}`);
  }
  return { violations, committedBySku };
}

async function moneyViolations(
  payment: Storage,
  orders: readonly OrderRow[],
): Promise<{ violations: string[]; captured: number; refunded: number; confirmedTotal: number }> {
  const totals = await paymentTotals(payment);
  const violations = await paymentInvariantViolations(payment);
  for (const [orderId, count] of totals.capturedIntentsByOrder) if (count > 1) violations.push(`order ${orderId} captured ${count} times`);

  const confirmedTotal = orders.filter((o) => o.status === 'CONFIRMED').reduce((sum, o) => sum + o.total, 0);
  if (totals.captured - totals.refunded !== confirmedTotal) {
    violations.push(`captured ${totals.captured} − refunded ${totals.refunded} ≠ ${confirmedTotal} total of CONFIRMED orders`);
  }

  const intents = await payment.query<{ order_id: string; status: string; net: string | number }>(sql`
    select order_id::text as order_id, status, captured_amount - refunded_amount as net from payment.intents`);
  const byOrder = new Map<string, IntentRow[]>();
  for (const r of intents) byOrder.set(r.order_id, [...(byOrder.get(r.order_id) ?? []), { orderId: r.order_id, status: r.status, net: Number(r.net) }]);
  for (const order of orders) {
    const status = order.status as OrderStatus;
    if (!TERMINAL.includes(status)) continue;
    const own = byOrder.get(order.id) ?? [];
    const net = own.reduce((sum, i) => sum + i.net, 0);
    const expected = status === 'CONFIRMED' ? order.total : 0;
    if (net !== expected) violations.push(`order ${order.id} is ${status}: captured − refunded ${net} ≠ ${expected}`);
    if (UNSOLD.includes(status)) {
      const holding = own.filter((i) => HOLDING.includes(i.status as PaymentStatus)).length;
      if (holding > 0) violations.push(`order ${order.id} is ${status} but ${holding} authorization(s) are not voided`);
    }
  }
  return { violations, captured: totals.captured, refunded: totals.refunded, confirmedTotal };
}

/**
 * Flash sales: each sale's `sold` is the units of its TAKEN and PAID tickets, and — once the system
 * is quiet — the units of its orders that still hold them (RESERVED or CONFIRMED), on every shard.
 */
async function flashSaleViolations(inventory: Storage, shards: readonly Storage[], allowInFlight: boolean): Promise<string[]> {
  const sales = await inventory.query<{ id: string; quantity: number; sold: number; held: number }>(sql`
    select s.id::text as id, s.quantity, s.sold,
      coalesce((select sum(t.quantity) from inventory.flash_sale_tickets t where t.sale_id = s.id and t.status in ('TAKEN', 'PAID')), 0)::int as held
    from inventory.flash_sales s`);
  const ordered = new Map<string, number>();
  for (const shard of shards) {
    const rows = await shard.query<{ key: string; units: number }>(sql`
      select o.idempotency_key as key, (select sum(l.quantity) from orders.order_lines l where l.order_id = o.id)::int as units
      from orders.orders o where o.idempotency_key like ${`${FLASH_SALE_KEY_PREFIX}%`} and o.status in ('PENDING', 'RESERVED', 'CONFIRMED')`);
    for (const r of rows) {
      const saleId = r.key.split(':')[1] ?? '';
      ordered.set(saleId, (ordered.get(saleId) ?? 0) + Number(r.units));
    }
  }
  const violations: string[] = [];
  violations.push(...(await ticketViolations(inventory, shards, allowInFlight)));
  for (const sale of sales) {
    if (sale.sold > sale.quantity) violations.push(`flash sale ${sale.id}: sold ${sale.sold} > quantity ${sale.quantity}`);
    if (sale.sold !== sale.held) violations.push(`flash sale ${sale.id}: sold ${sale.sold} ≠ ${sale.held} units of its taken and paid tickets`);
    const units = ordered.get(sale.id) ?? 0;
    if (units > sale.sold || (!allowInFlight && units !== sale.sold)) violations.push(`flash sale ${sale.id}: sold ${sale.sold} but its live orders hold ${units} units`);
  }
  return violations;
}

/** Each accepted ticket's order (its id is the ticket's, its key `flash-sale:<sale>:<ticket>`), once across every shard. */
async function ticketViolations(inventory: Storage, shards: readonly Storage[], allowInFlight: boolean): Promise<string[]> {
  const tickets = await inventory.query<{ id: string; status: string }>(sql`select ticket_id::text as id, status from inventory.flash_sale_tickets`);
  const accepted = new Set(tickets.filter((t) => (ACCEPTED_TICKETS as readonly string[]).includes(t.status)).map((t) => t.id));
  const ordersPerTicket = new Map<string, number>();
  for (const shard of shards) {
    const rows = await shard.query<{ key: string }>(sql`select idempotency_key as key from orders.orders where idempotency_key like ${`${FLASH_SALE_KEY_PREFIX}%`}`);
    for (const r of rows) {
      const ticketId = r.key.split(':')[2] ?? '';
      ordersPerTicket.set(ticketId, (ordersPerTicket.get(ticketId) ?? 0) + 1);
    }
  }
  const violations: string[] = [];
  for (const id of accepted) {
    const orders = ordersPerTicket.get(id) ?? 0;
    if (orders > 1 || (orders === 0 && !allowInFlight)) violations.push(`flash-sale ticket ${id} was accepted but has ${orders} orders`);
  }
  for (const id of ordersPerTicket.keys()) if (!accepted.has(id)) violations.push(`flash-sale order ${id} has no accepted ticket`);
  return violations;
}

function answerViolations(answers: readonly OrderAnswer[], orders: ReadonlyMap<string, OrderRow>): string[] {
  const violations: string[] = [];
  for (const answer of answers) {
    const order = orders.get(answer.orderId);
    if (!order) {
      violations.push(`${answer.op} answered 2xx with order ${answer.orderId} (${answer.status}), which does not exist`);
      continue;
    }
    const told = answer.status as OrderStatus;
    if (!TERMINAL.includes(told)) continue;
    const allowed = LATER_STATUSES[told] ?? [told];
    if (!allowed.includes(order.status as OrderStatus)) violations.push(`${answer.op} answered order ${answer.orderId} ${told}, but it is ${order.status}`);
  }
  return violations;
}

/** Facts stay on the shard that published them when their order moves: any shard's outbox counts. */
async function outboxViolations(shards: readonly Storage[], orders: readonly OrderRow[]): Promise<string[]> {
  const facts = new Set<string>();
  for (const storage of shards) {
    const rows = await storage.query<{ key: string; type: string }>(sql`
      select distinct key, type from orders.outbox where type in (${EVENT_TYPES.OrderConfirmed}, ${EVENT_TYPES.OrderCancelled})`);
    for (const r of rows) facts.add(`${r.type} ${r.key}`);
  }
  const violations: string[] = [];
  for (const order of orders) {
    if (!order.recent) continue;
    const type = order.status === 'CONFIRMED' ? EVENT_TYPES.OrderConfirmed : order.status === 'CANCELLED' && order.wasConfirmed ? EVENT_TYPES.OrderCancelled : undefined;
    if (type && !facts.has(`${type} ${order.id}`)) violations.push(`order ${order.id} is ${order.status} but the order outbox has no ${type} fact`);
  }
  return violations;
}
