import { SIM_TOKENS } from './payment-model.js';
import type { SimWorld } from './world.js';

/** Checkout failures that are business answers; anything else (an unclassified error, a timeout) is not. */
const BUSINESS_FAILURES: Readonly<Record<string, string>> = { OUT_OF_STOCK: 'REJECTED', PAYMENT_DECLINED: 'PAYMENT_FAILED' };

/**
 * The laws of a settled run, over its durable state and what its shoppers were told. Each returns
 * sentences; none means the law holds. (test/sim has a run that breaks each, by a planted bug.)
 */
export function checkWorld(world: SimWorld): string[] {
  return [...stockLaws(world), ...moneyLaws(world), ...sagaLaws(world), ...shopperLaws(world)];
}

/** Stock conserved and never negative, no oversell, nothing still held once every saga has ended. */
export function stockLaws(world: SimWorld): string[] {
  const problems: string[] = [];
  const committed = new Map<string, number>();
  for (const r of world.inventory.reservations.values()) {
    if (r.status === 'HELD') problems.push(`reservation ${short(r.id)} still HELD after its saga ended`);
    if (r.status !== 'COMMITTED') continue;
    for (const line of r.lines) committed.set(line.sku, (committed.get(line.sku) ?? 0) + line.quantity);
  }
  for (const [sku, initial] of world.initialStock) {
    const row = world.inventory.stock.get(sku);
    if (!row) {
      problems.push(`stock ${sku} vanished`);
      continue;
    }
    const sold = committed.get(sku) ?? 0;
    if (row.onHand < 0) problems.push(`stock ${sku}: on hand ${row.onHand} < 0`);
    if (sold > initial) problems.push(`stock ${sku}: oversold, ${sold} committed of ${initial}`);
    if (row.onHand + sold !== initial) problems.push(`stock ${sku}: not conserved, on hand ${row.onHand} + committed ${sold} != ${initial}`);
  }
  return problems;
}

/** Nothing captured twice; captured − refunded = the total of a confirmed order, 0 otherwise; nothing left authorized. */
export function moneyLaws(world: SimWorld): string[] {
  const problems: string[] = [];
  for (const [intentId, times] of world.payments.providerCaptures) {
    if (times > 1) problems.push(`payment ${short(intentId)} captured ${times} times at the provider`);
  }
  const byOrder = new Map<string, { net: number; held: string[] }>();
  for (const intent of world.payments.intents.values()) {
    const entry = byOrder.get(intent.orderId) ?? { net: 0, held: [] };
    entry.net += intent.captured - intent.refunded;
    if (intent.status === 'AUTHORIZED' || intent.status === 'PENDING') entry.held.push(`${short(intent.id)} ${intent.status}`);
    if (intent.refunded > intent.captured || intent.captured > intent.amount.amount) problems.push(`payment ${short(intent.id)}: captured ${intent.captured}, refunded ${intent.refunded} of ${intent.amount.amount}`);
    byOrder.set(intent.orderId, entry);
  }
  for (const [orderId, row] of world.orders.orders) {
    const money = byOrder.get(orderId) ?? { net: 0, held: [] };
    const expected = row.order.status === 'CONFIRMED' ? row.order.total.amount : 0;
    if (money.net !== expected) problems.push(`order ${short(orderId)} ${row.order.status}: captured − refunded ${money.net} != ${expected}`);
    if (row.order.status !== 'CONFIRMED' && money.held.length > 0) problems.push(`order ${short(orderId)} ${row.order.status} left authorizations held: ${money.held.join(', ')}`);
    if (row.order.status === 'CONFIRMED' && row.confirmedFacts !== 1) problems.push(`order ${short(orderId)}: ${row.confirmedFacts} OrderConfirmed facts`);
  }
  return problems;
}

/** Every saga ended (finished, lease given up), agreeing with its order; a failure is a business answer. */
export function sagaLaws(world: SimWorld): string[] {
  const problems: string[] = [];
  for (const saga of world.sagas.all()) {
    const order = world.orders.row(saga.id)?.order;
    const label = `saga ${short(saga.id)}`;
    if (!order) {
      problems.push(`${label} has no order`);
      continue;
    }
    if (saga.finishedAt === null) problems.push(`${label} not finished: ${saga.status} at step ${saga.currentStep}`);
    if (saga.status === 'FAILED') problems.push(`${label} FAILED: ${saga.state.compensationError?.message ?? 'no error recorded'}`);
    if ((saga.status === 'COMPLETED') !== (order.status === 'CONFIRMED')) problems.push(`${label} ${saga.status} but its order is ${order.status}`);
    const failure = saga.state.failure;
    if (saga.status === 'COMPENSATED') {
      if (failure?.kind !== 'aborted') problems.push(`${label} compensated on a ${failure?.kind ?? 'missing'} failure (${failure && 'message' in failure ? failure.message : '-'}), not a business answer`);
      else if (BUSINESS_FAILURES[failure.reason] !== order.status) problems.push(`${label} aborted ${failure.reason} but its order is ${order.status}`);
    }
  }
  return problems;
}

/** Every shopper answered and settled, every answer to one key the same, and an approved card never declined. */
export function shopperLaws(world: SimWorld): string[] {
  const problems: string[] = [];
  for (const s of world.shoppers) {
    const label = `shopper ${s.index}`;
    if (!s.done) problems.push(`${label} never got a settled answer`);
    if (new Set(s.answers).size > 1) problems.push(`${label}: one key, different answers: ${s.answers.join(' | ')}`);
    const order = s.orderId === undefined ? undefined : world.orders.row(s.orderId)?.order;
    if (s.done && !order) problems.push(`${label}: answered without an order`);
    if (order && s.finalStatus !== undefined && s.finalStatus !== order.status) problems.push(`${label} saw ${s.finalStatus}, the order is ${order.status}`);
    if (order && SIM_TOKENS[s.token]?.approved && order.status === 'PAYMENT_FAILED') problems.push(`${label}: an approved card (${s.token}) ended PAYMENT_FAILED`);
    if (order && !SIM_TOKENS[s.token]?.approved && order.status === 'CONFIRMED') problems.push(`${label}: a declined card (${s.token}) ended CONFIRMED`);
  }
  const keys = new Set(world.shoppers.map((s) => s.userId));
  if (world.orders.orders.size > keys.size) problems.push(`${world.orders.orders.size} orders for ${keys.size} keys`);
  return problems;
}

function short(id: string): string {
  return id.slice(0, 8);
}
