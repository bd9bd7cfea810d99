import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBackend } from '@agora/platform/testing';
import { checkInvariants } from '../support/invariants.js';
import { INITIAL_STOCK, PRICE, QUANTITY, crashLeft, type CrashLeft } from './checkout-crash-scenarios.js';
import { shop, startAgora, waitFor, type AgoraProcess } from './harness.js';
import { Lane, RECOVERY_WAIT_MS, expectKilledAt, sagaLog, settled } from './lane.js';

/**
 * Crash tests of the cancel saga (`cancelOrder`: refund, restock — both replayed — then
 * markCancelled, local). For each point a tok_visa checkout confirms on a process started with
 * AGORA_FAULT_KILL_AT at that point (it names the cancel saga, so the checkout passes it by), then
 * the shopper cancels and the process dies serving the cancel. `agora start` runs again without
 * the fault; recovery must finish the cancel saga, and the databases must show: the order
 * CANCELLED with one CANCELLED entry in its history, the capture refunded exactly once (one
 * refund, one successful provider refund call — the sandbox's own counts die with its process),
 * the stock restocked, the invariants clean; and a second cancel answers the CANCELLED order.
 *
 * `refund:run:STARTED` dies before the refund; `refund:run:DONE` and `restock:run:DONE` after
 * their effect but before any checkpoint, so recovery replays them and each must answer "already
 * done"; `markCancelled:run:DONE` after the local commit that ended the saga: the shopper never
 * got the answer, but nothing is left to recover.
 */

interface CancelScenario {
  /** AGORA_FAULT_KILL_AT */
  point: string;
  /** The order's status before the restart: CANCELLED once markCancelled committed. */
  orderAtCrash: 'CONFIRMED' | 'CANCELLED';
  /** What the crash left of the cancel saga, the reservation and the payment (checked before the restart). */
  atCrash: CrashLeft;
}

const cancelScenarios: CancelScenario[] = [
  { point: 'cancelOrder:refund:run:STARTED', orderAtCrash: 'CONFIRMED', atCrash: { saga: 'RUNNING', reservation: 'COMMITTED', intent: 'CAPTURED' } },
  { point: 'cancelOrder:refund:run:DONE', orderAtCrash: 'CONFIRMED', atCrash: { saga: 'RUNNING', reservation: 'COMMITTED', intent: 'REFUNDED' } },
  { point: 'cancelOrder:restock:run:DONE', orderAtCrash: 'CONFIRMED', atCrash: { saga: 'RUNNING', reservation: 'RESTOCKED', intent: 'REFUNDED' } },
  // The local commit completed and finished the saga: recovery has nothing to do.
  { point: 'cancelOrder:markCancelled:run:DONE', orderAtCrash: 'CANCELLED', atCrash: { saga: 'FINISHED', reservation: 'RESTOCKED', intent: 'REFUNDED' } },
];

const ORDER_TOTAL = PRICE * QUANTITY;

interface CancelState {
  status: string;
  cancelSagaId: string | null;
  sagaName: string | null;
  sagaStatus: string | null;
  finished: boolean;
}

async function cancelStateOf(lane: Lane, orderId: string): Promise<CancelState | undefined> {
  const [row] = await lane.storage.query<{ status: string; cancel_saga_id: string | null; name: string | null; saga_status: string | null; finished_at: Date | null }>(sql`
    select o.status, o.cancel_saga_id, s.name, s.status as saga_status, s.finished_at
    from orders.orders o left join orders.sagas s on s.id = o.cancel_saga_id
    where o.id = ${orderId}::uuid`);
  if (!row) return undefined;
  return {
    status: row.status,
    cancelSagaId: row.cancel_saga_id === null ? null : String(row.cancel_saga_id),
    sagaName: row.name,
    sagaStatus: row.saga_status,
    finished: row.finished_at !== null,
  };
}

/** Confirms a tok_visa order on `proc` (the kill point names the cancel saga, so the checkout runs through). */
async function confirmedOrder(lane: Lane, proc: AgoraProcess): Promise<{ orderId: string; token: string; sku: string }> {
  const sku = lane.nextSku();
  const admin = await shop.adminToken(proc.api);
  await shop.createSku(proc.api, admin, sku, PRICE, INITIAL_STOCK);
  lane.initialStock.set(sku, INITIAL_STOCK);
  const shopper = await shop.registerShopper(proc.api);
  await shop.addToCart(proc.api, shopper.token, sku, QUANTITY);
  const res = await shop.checkout(proc.api, shopper.token, `chaos-${randomUUID()}`, 'tok_visa');
  expect(res.status, `checkout before the cancel: ${res.text}`).toBe(201);
  const order = res.body as { id: string; status: string };
  expect(order.status).toBe('CONFIRMED');
  return { orderId: order.id, token: shopper.token, sku };
}

function cancel(proc: AgoraProcess, token: string, orderId: string) {
  return proc.api.post<{ id: string; status: string }>(`/api/v1/orders/${orderId}/cancel`, undefined, { token });
}

async function crashCancelAndRecover(lane: Lane, scenario: CancelScenario): Promise<void> {
  const crashing = await startAgora({ ...lane.env, AGORA_FAULT_KILL_AT: scenario.point });
  let placed: { orderId: string; token: string; sku: string };
  try {
    placed = await confirmedOrder(lane, crashing);
    const answer = await settled(cancel(crashing, placed.token, placed.orderId).then((res) => ({ status: res.status, text: res.text })));
    await expectKilledAt(crashing, scenario.point, answer);
    // The process died serving the cancel: the shopper saw the connection drop, not an answer.
    expect(answer, `cancel answered before the crash: ${JSON.stringify(answer)}`).toBeInstanceOf(Error);
  } finally {
    await crashing.kill();
  }
  const { orderId, token, sku } = placed;

  const crashed = await cancelStateOf(lane, orderId);
  expect(crashed?.cancelSagaId, 'the cancel claimed the order for its saga before the crash').toBeTruthy();
  const sagaId = crashed?.cancelSagaId ?? '';
  const before = `${scenario.point}, before the restart:\n${await sagaLog(lane, sagaId, orderId)}`;
  expect(crashed, before).toMatchObject({ sagaName: 'cancelOrder', status: scenario.orderAtCrash });
  expect(await crashLeft(lane, sagaId, orderId), before).toEqual(scenario.atCrash);

  const recovering = await startAgora(lane.env);
  try {
    const final = await waitFor(
      async () => {
        const state = await cancelStateOf(lane, orderId);
        return state && state.finished && state.status === 'CANCELLED' ? state : undefined;
      },
      RECOVERY_WAIT_MS,
      async () => `order ${orderId} never became CANCELLED with its cancel saga finished after ${scenario.point}:\n${await sagaLog(lane, sagaId, orderId)}\n${recovering.output()}`,
    );
    const context = `${scenario.point}:\n${await sagaLog(lane, sagaId, orderId)}`;
    expect(final, context).toMatchObject({ cancelSagaId: sagaId, sagaStatus: 'COMPLETED' });

    // The shopper cancels again (the first answer never came): the CANCELLED order, nothing redone.
    const again = await cancel(recovering, token, orderId);
    expect(again.status, again.text).toBe(200);
    expect(again.body).toMatchObject({ id: orderId, status: 'CANCELLED' });
    const read = await recovering.api.get<{ status: string; history: { status: string }[] }>(`/api/v1/orders/${orderId}`, { token });
    expect(read.body.status).toBe('CANCELLED');
    expect(read.body.history.filter((h) => h.status === 'CANCELLED'), context).toHaveLength(1);
    expect((await cancelStateOf(lane, orderId))?.cancelSagaId, 'no second cancel saga').toBe(sagaId);

    // Refunded exactly once, in full.
    const intents = await lane.storage.query<{ status: string; captured_amount: number; refunded_amount: number }>(
      sql`select status, captured_amount, refunded_amount from payment.intents where order_id = ${orderId}::uuid`,
    );
    expect(intents.map((i) => ({ ...i, captured_amount: Number(i.captured_amount), refunded_amount: Number(i.refunded_amount) })), context).toEqual([
      { status: 'REFUNDED', captured_amount: ORDER_TOTAL, refunded_amount: ORDER_TOTAL },
    ]);
    const refunds = await lane.storage.query<{ status: string; amount: number }>(sql`
      select r.status, r.amount from payment.refunds r join payment.intents i on i.id = r.intent_id where i.order_id = ${orderId}::uuid`);
    expect(refunds.map((r) => ({ status: r.status, amount: Number(r.amount) })), context).toEqual([{ status: 'SUCCEEDED', amount: ORDER_TOTAL }]);
    const providerRefunds = await lane.storage.query<{ provider_key: string }>(sql`
      select a.provider_key from payment.attempts a join payment.intents i on i.id = a.intent_id
      where i.order_id = ${orderId}::uuid and a.operation = 'refund' and a.outcome = 'succeeded'`);
    expect(providerRefunds, `the provider refunded once: ${context}`).toHaveLength(1);

    // The committed units are back on hand.
    const reservations = await lane.storage.query<{ status: string }>(sql`select status from inventory.reservations where id = ${orderId}::uuid`);
    expect(reservations.map((r) => r.status), context).toEqual(['RESTOCKED']);
    const [stock] = await lane.storage.query<{ on_hand: number; reserved: number }>(sql`select on_hand, reserved from inventory.stock where sku = ${sku}`);
    expect(stock, context).toEqual({ on_hand: INITIAL_STOCK, reserved: 0 });

    const report = await checkInvariants({ inventory: lane.storage, orders: lane.storage, payment: lane.storage, initialStock: lane.initialStock });
    expect(report.violations, `${context}\n${JSON.stringify(report)}`).toEqual([]);
  } finally {
    const stopped = await recovering.stop();
    expect(stopped, recovering.output()).toEqual({ code: 0, signal: null });
  }
}

const postgres = await postgresBackend.available();

describe.runIf(postgres)('cancel crash recovery (PostgreSQL)', () => {
  const lane = new Lane('cancel');
  beforeAll(() => lane.open());
  afterAll(() => lane.close());
  for (const scenario of cancelScenarios) {
    it(`killed at ${scenario.point} → restart ends the order CANCELLED, refunded once, restocked; a second cancel answers it`, () => crashCancelAndRecover(lane, scenario), 240_000);
  }
});
