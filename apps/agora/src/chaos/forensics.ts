import { sql, type SQL } from 'drizzle-orm';
import type { Storage } from '@agora/platform';

export const FORENSICS_LIMITS = {
  /** Orders explained per failing run: the first ones a violation names. */
  orders: 3,
  /** Rows shown per table and order. */
  rowsPerTable: 20,
} as const;

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** The order ids a list of violations names, first named first, without repeats. */
export function namedOrderIds(violations: readonly string[]): string[] {
  return [...new Set(violations.flatMap((v) => v.match(UUID) ?? []))];
}

/**
 * Everything each database holds about one order: the order and its history, its sagas (checkout and
 * cancellation) with their step logs, the reservation (its id is the order id) with its lines, and the payment
 * intents with their attempts and refunds. A failing chaos run prints it, so the violation can be
 * understood from the report alone; the databases are gone once the run has cleaned up.
 */
export async function explainOrder(storage: Storage, orderId: string): Promise<string> {
  const sections: [string, SQL][] = [
    ['order', sql`select id, status, total_amount, idempotency_key, response_status, cancel_saga_id, created_at, updated_at from orders.orders where id = ${orderId}::uuid`],
    ['history', sql`select * from orders.order_history where order_id = ${orderId}::uuid order by at`],
    ['saga', sql`select id, name, status, current_step, attempts, lease_owner, lease_until, wait_until, state, signals, finished_at, created_at, updated_at from orders.sagas where id in (${orderId}::uuid, (select cancel_saga_id from orders.orders where id = ${orderId}::uuid)) order by created_at`],
    ['saga steps', sql`select * from orders.saga_steps where saga_id in (${orderId}::uuid, (select cancel_saga_id from orders.orders where id = ${orderId}::uuid)) order by started_at`],
    ['reservation', sql`select * from inventory.reservations where id = ${orderId}::uuid`],
    ['reservation lines', sql`select * from inventory.reservation_lines where reservation_id = ${orderId}::uuid`],
    ['payment intents', sql`select * from payment.intents where order_id = ${orderId}::uuid order by created_at`],
    ['payment attempts', sql`select a.* from payment.attempts a join payment.intents i on i.id = a.intent_id where i.order_id = ${orderId}::uuid order by a.started_at`],
    ['refunds', sql`select r.* from payment.refunds r join payment.intents i on i.id = r.intent_id where i.order_id = ${orderId}::uuid order by r.created_at`],
  ];
  const lines = [`--- order ${orderId}`];
  for (const [title, query] of sections) {
    const rows = await storage
      .query<Record<string, unknown>>(sql`select row_to_json(t) as row from (${query} limit ${FORENSICS_LIMITS.rowsPerTable}) t`)
      .catch((err: unknown) => [{ row: `(could not read: ${err instanceof Error ? err.message : String(err)})` }]);
    lines.push(`  ${title}:${rows.length === 0 ? ' none' : ''}`);
    for (const { row } of rows) lines.push(`    ${typeof row === 'string' ? row : JSON.stringify(row)}`);
  }
  return lines.join('\n');
}

/** The explanation of the first orders the violations name ('' when they name none). */
export async function explainViolations(storage: Storage, violations: readonly string[]): Promise<string> {
  const ids = namedOrderIds(violations).slice(0, FORENSICS_LIMITS.orders);
  const parts: string[] = [];
  for (const id of ids) parts.push(await explainOrder(storage, id));
  return parts.length === 0 ? '' : `  what the databases hold about the orders named:\n${parts.join('\n')}\n`;
}
