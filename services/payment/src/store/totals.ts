import { gt, sql } from 'drizzle-orm';
import type { Storage } from '@agora/platform';
import { intentViolations, type IntentState } from '../domain/intent.js';
import type { IntentRecord } from './payment-store.js';
import { intents } from './schema.js';

export interface PaymentTotals {
  /** Sum of captured minor units over every intent (all currencies; the demo shop is single-currency). */
  captured: number;
  /** Sum of refunded minor units over every intent. */
  refunded: number;
  /** Per currency, for shops that sell in more than one. */
  byCurrency: Map<string, { captured: number; refunded: number }>;
  /** Orders with money captured → how many of their intents hold captured money (must be 1). */
  capturedIntentsByOrder: Map<string, number>;
}

/**
 * What the invariant checker compares with the order service: no order captured twice
 * (`capturedIntentsByOrder` values are all 1) and captured − refunded = totals of CONFIRMED orders
 * minus their refunds.
 */
export async function paymentTotals(storage: Storage): Promise<PaymentTotals> {
  const perCurrency = await storage.db
    .select({
      currency: intents.currency,
      captured: sql<number>`coalesce(sum(${intents.capturedAmount}), 0)`.mapWith(Number),
      refunded: sql<number>`coalesce(sum(${intents.refundedAmount}), 0)`.mapWith(Number),
    })
    .from(intents)
    .groupBy(intents.currency);
  const perOrder = await storage.db
    .select({ orderId: intents.orderId, n: sql<number>`count(*)`.mapWith(Number) })
    .from(intents)
    .where(gt(intents.capturedAmount, 0))
    .groupBy(intents.orderId);
  const byCurrency = new Map(perCurrency.map((r) => [r.currency, { captured: r.captured, refunded: r.refunded }]));
  return {
    captured: perCurrency.reduce((acc, r) => acc + r.captured, 0),
    refunded: perCurrency.reduce((acc, r) => acc + r.refunded, 0),
    byCurrency,
    capturedIntentsByOrder: new Map(perOrder.map((r) => [r.orderId, r.n])),
  };
}

/** Every intent whose ledger invariant is broken (the CHECK constraints should make this always empty). */
export async function paymentInvariantViolations(storage: Storage): Promise<string[]> {
  const rows = await storage.db.select().from(intents);
  return rows.flatMap((row) =>
    intentViolations(intentStateOf(row)),
  );
}

/** The domain's view of a stored intent (what its rules and invariants are written against). */
export function intentStateOf(row: IntentRecord): IntentState {
  return {
    id: row.id,
    status: row.status,
    amount: { amount: row.amount, currency: row.currency },
    capturedAmount: row.capturedAmount,
    refundedAmount: row.refundedAmount,
    refundReserved: row.refundReserved,
    providerRef: row.providerRef ?? undefined,
  };
}
