import { sql } from 'drizzle-orm';
import { inventoryTotals, inventoryViolations } from '@agora/inventory';
import { paymentInvariantViolations, paymentTotals } from '@agora/payment';
import type { Storage } from '@agora/platform';

export interface InvariantInput {
  inventory: Storage;
  orders: Storage;
  payment: Storage;
  /** On hand per SKU before the scenario; only these SKUs are checked for conservation. */
  initialStock: ReadonlyMap<string, number>;
  /** Orders may still be PENDING/RESERVED (e.g. an asynchronous payment pending). */
  allowInFlight?: boolean;
}

export interface InvariantReport {
  violations: string[];
  ordersByStatus: Record<string, number>;
  committedBySku: Record<string, number>;
  captured: number;
  refunded: number;
  confirmedTotal: number;
}

/**
 * The system's conservation laws, checked from the databases themselves (DESIGN.md section 9).
 * Chaos tests of later issues reuse it unchanged:
 * - stock on hand = initial − units of CONFIRMED orders, never negative;
 * - reserved = the sum of live (HELD) reservations;
 * - no order captured twice; captured − refunded = totals of CONFIRMED orders;
 * - every order in a legal status, and none stuck in flight once the system is quiet.
 */
export async function checkInvariants(input: InvariantInput): Promise<InvariantReport> {
  const violations: string[] = [];

  const totals = await inventoryTotals(input.inventory);
  violations.push(...inventoryViolations(totals));
  const onHand = new Map(totals.map((t) => [t.sku, t.onHand]));

  const statusRows = await input.orders.query<{ status: string; n: number }>(sql`select status, count(*)::int as n from orders.orders group by status`);
  const ordersByStatus = Object.fromEntries(statusRows.map((r) => [r.status, r.n]));
  const legal = new Set(['PENDING', 'RESERVED', 'CONFIRMED', 'REJECTED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED']);
  for (const status of Object.keys(ordersByStatus)) if (!legal.has(status)) violations.push(`orders in unknown status ${status}`);
  if (!input.allowInFlight) {
    const inFlight = (ordersByStatus.PENDING ?? 0) + (ordersByStatus.RESERVED ?? 0);
    if (inFlight > 0) violations.push(`${inFlight} orders still PENDING/RESERVED`);
  }

  const committedRows = await input.orders.query<{ sku: string; units: number }>(sql`
    select l.sku, sum(l.quantity)::int as units from orders.order_lines l join orders.orders o on o.id = l.order_id
    where o.status = 'CONFIRMED' group by l.sku`);
  const committedBySku = Object.fromEntries(committedRows.map((r) => [r.sku, r.units]));
  for (const [sku, initial] of input.initialStock) {
    const expected = initial - (committedBySku[sku] ?? 0);
    const actual = onHand.get(sku);
    if (actual !== expected) violations.push(`${sku}: on hand ${actual} but initial ${initial} − committed ${committedBySku[sku] ?? 0} = ${expected}`);
  }

  const payments = await paymentTotals(input.payment);
  violations.push(...(await paymentInvariantViolations(input.payment)));
  for (const [orderId, count] of payments.capturedIntentsByOrder) if (count > 1) violations.push(`order ${orderId} captured ${count} times`);
  const [confirmed] = await input.orders.query<{ total: number | null }>(sql`select coalesce(sum(total_amount), 0)::bigint as total from orders.orders where status = 'CONFIRMED'`);
  const confirmedTotal = Number(confirmed?.total ?? 0);
  if (payments.captured - payments.refunded !== confirmedTotal) {
    violations.push(`captured ${payments.captured} − refunded ${payments.refunded} ≠ ${confirmedTotal} total of CONFIRMED orders`);
  }
  const capturedNotConfirmed = await input.orders.query<{ id: string }>(sql`select id from orders.orders where status not in ('CONFIRMED', 'CANCELLED') and id in (
    select order_id from payment.intents where captured_amount > refunded_amount)`);
  for (const row of capturedNotConfirmed) violations.push(`order ${row.id} holds captured money but is not CONFIRMED`);

  return { violations, ordersByStatus, committedBySku, captured: payments.captured, refunded: payments.refunded, confirmedTotal };
}
