import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBackend } from '@agora/platform/testing';
import { checkInvariants } from '../support/invariants.js';
import { shop, startAgora, waitFor, type AgoraProcess } from './harness.js';
import { Lane, RECOVERY_WAIT_MS, expectKilledAt, ordersOf, sagaLog, settled, type OrderState } from './lane.js';

/**
 * Crash tests of the checkout saga (docs/checkout.md). For each kill point, `agora
 * start` runs with AGORA_FAULT_KILL_AT (apps/agora/src/faults.ts): a shopper checks out
 * and the process SIGKILLs itself when the saga reaches that point — before a step's side effect
 * (STARTED) or after it (DONE). The remote steps are replayed (no log write of their own), so
 * DONE of one is "after effect k, before any checkpoint": recovery must run every step again from
 * the saga's birth and each must answer "already done". Then `agora start` runs again without
 * the fault on the same database, and the test waits until recovery has finished the saga, and
 * checks from the databases themselves:
 * - the order is terminal, in a status this scenario may end in (CONFIRMED, or compensated);
 * - the client's retry with the same Idempotency-Key answers the same order: no second order,
 *   no second payment intent, nothing captured twice;
 * - the order's stock reservation is not left HELD: COMMITTED if sold, else given back as the
 *   scenario says (released, or restocked once committed), and the payment likewise;
 * - `checkInvariants`: stock and money conserved over every order of the database so far.
 *
 * Each lane runs its points in sequence on one fresh database (distinct SKU and shopper per
 * point), so every later point also re-checks the earlier ones. Saga leases are shortened so
 * recovery does not wait the production 30 s.
 */

const CHECKOUT_STEPS = ['open', 'reserveStock', 'authorizePayment', 'commitStock', 'capturePayment', 'clearCart', 'confirm'] as const;
const TERMINAL_ORDER = ['CONFIRMED', 'REJECTED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED'];
/** Every point's own SKU: its price, the units on hand and the units the shopper buys of it. */
export const PRICE = 1250;
export const INITIAL_STOCK = 5;
export const QUANTITY = 2;

export interface Scenario {
  /** AGORA_FAULT_KILL_AT */
  point: string;
  card: 'tok_visa' | 'tok_declined' | 'tok_async' | 'tok_capture_fails';
  /** Order statuses this scenario may end in. */
  ends: readonly string[];
  /** False when the checkout may answer (202) before the kill: the saga goes on after the response. */
  diesInRequest: boolean;
  /** While the process is down: its payment wait runs past its deadline (wait_until moved to the past). */
  waitExpiresWhileDown?: boolean;
  /**
   * How an order that did not sell gave back what it held: its reservation's status (RELEASED by
   * default: it never got past HELD) and, when given, its payment intent's.
   */
  unsold?: { reservation: 'RELEASED' | 'RESTOCKED'; intent?: 'VOIDED' };
  /** What the crash left, checked before the restart: where the saga stood and how far the undoing got. */
  atCrash?: CrashLeft;
}

/** The state a crash leaves, read from the databases while no process runs. */
export interface CrashLeft {
  saga: string;
  reservation: string;
  intent: string;
}

/** Reads what `atCrash` describes, for the saga `sagaId` of order `orderId`. */
export async function crashLeft(lane: Lane, sagaId: string, orderId: string): Promise<CrashLeft> {
  const [row] = await lane.storage.query<{ saga: string | null; reservation: string | null; intent: string | null }>(sql`
    select (select status from orders.sagas where id = ${sagaId}::uuid and finished_at is null) as saga,
           (select status from inventory.reservations where id = ${orderId}::uuid) as reservation,
           (select string_agg(status, ',') from payment.intents where order_id = ${orderId}::uuid) as intent`);
  return { saga: row?.saga ?? 'FINISHED', reservation: row?.reservation ?? 'NONE', intent: row?.intent ?? 'NONE' };
}

/**
 * One kill point per distinct moment. The remote steps are replayed (no log write of their own),
 * so nothing happens between one step's `run:DONE` and the next one's `run:STARTED`: the drive
 * only moves on in memory, and a kill at either leaves the same databases. The same holds for
 * `open` (it runs nothing: its STARTED and DONE are `reserveStock`'s STARTED) and `confirm`
 * (fused: its STARTED is `clearCart`'s DONE, its DONE the one write that completes the saga).
 * So the distinct moments are: before any effect, and after each step's effect.
 */
const AFTER_EACH_STEP = CHECKOUT_STEPS.filter((step) => step !== 'open').map((step) => `checkout:${step}:run:DONE`);

export const visaScenarios: Scenario[] = ['checkout:open:run:STARTED', ...AFTER_EACH_STEP].map((point) => ({
  point,
  card: 'tok_visa' as const,
  // Compensating would keep stock and money too, but recovery resumes forward: nothing about a
  // crash makes an approved card's checkout fail, so anything but CONFIRMED means a step broke
  // after the restart (as capture did when the sandbox provider forgot its charges).
  ends: ['CONFIRMED'],
  diesInRequest: true,
}));

/** tok_declined: authorizePayment aborts, reserveStock and open are compensated; kill along that path. */
// `run:FAILED` is the write that turns the saga COMPENSATING: the next moment, before the release,
// is the same as `reserveStock:compensate:STARTED`; after the release (its DONE) comes open's
// compensation with nothing written between (the same as `open:compensate:STARTED`).
export const declinedScenarios: Scenario[] = ['checkout:authorizePayment:run:FAILED', 'checkout:reserveStock:compensate:DONE'].map((point) => ({ point, card: 'tok_declined' as const, ends: ['PAYMENT_FAILED'], diesInRequest: true }));

/**
 * tok_capture_fails: authorized, then the provider refuses the capture, so capturePayment aborts
 * with PAYMENT_DECLINED after the stock was committed; the compensations run backwards: restock
 * (commitStock), void (authorizePayment), release (reserveStock: a CONFLICT on a restocked
 * reservation, ignored), then open ends the order PAYMENT_FAILED. Every point is at or after
 * `run:FAILED`, whose write makes the saga COMPENSATING at commitStock; the compensations are
 * replayed (no log write of their own), so recovery runs all of them again from there and each
 * must answer "already done". The sandbox keeps "capture refused" in its process memory only (a
 * charge relearned after a restart would capture), but a COMPENSATING saga never runs a step
 * forward again: only PAYMENT_FAILED is correct, with the authorization voided and nothing captured.
 * One point per distinct moment: a compensation's STARTED is the moment right after the write or
 * the compensation before it (nothing is written between), so the failure and each DONE cover them.
 */
export const captureFailsScenarios: Scenario[] = [
  'checkout:capturePayment:run:FAILED',
  'checkout:commitStock:compensate:DONE',
  'checkout:authorizePayment:compensate:DONE',
  'checkout:open:compensate:DONE',
].map((point) => ({
  point,
  card: 'tok_capture_fails' as const,
  ends: ['PAYMENT_FAILED'],
  diesInRequest: true,
  unsold: { reservation: 'RESTOCKED' as const, intent: 'VOIDED' as const },
  // Recovery has work left at every point (open's DONE is not a checkpoint), and meets the
  // restock and the void done or not, as the point says.
  atCrash: {
    saga: 'COMPENSATING',
    reservation: /capturePayment|commitStock:compensate:STARTED/.test(point) ? 'COMMITTED' : 'RESTOCKED',
    intent: /authorizePayment:compensate:DONE|open/.test(point) ? 'VOIDED' : 'AUTHORIZED',
  },
}));

/**
 * tok_async: authorizePayment returns PENDING and the saga WAITs (the checkout answers 202); the
 * sandbox's webhook → payment.settled → order resumes it, and the later steps run off the request.
 * `run:WAITING:WAITING` is the pause (the webhook is still to come and dies with the process);
 * `run:WAITING:RUNNING` the resumed run, before onSignal. After a restart the payment must still
 * settle (the sandbox re-delivers what it had pending), so these end CONFIRMED. The last scenario
 * also lets the payment window pass while the process is down: the deadline and the re-delivered
 * webhook race, and either outcome — CONFIRMED, or EXPIRED with the payment voided and the stock
 * released — is correct.
 */
export const asyncScenarios: Scenario[] = [
  ...[
    // Before the asynchronous authorization (the moments before it are the visa lane's).
    'checkout:reserveStock:run:DONE',
    'checkout:authorizePayment:run:WAITING:WAITING',
    'checkout:authorizePayment:run:WAITING:RUNNING',
    ...AFTER_EACH_STEP.filter((point) => !/open|reserveStock/.test(point)),
  ].map((point) => ({
    point,
    card: 'tok_async' as const,
    ends: ['CONFIRMED'],
    // Up to the pause the saga runs in the request; after it, in the payment.settled handler (the client has its 202).
    diesInRequest: !/WAITING:RUNNING|authorizePayment:run:DONE|commitStock|capturePayment|clearCart|confirm/.test(point),
  })),
  { point: 'checkout:authorizePayment:run:WAITING:WAITING', card: 'tok_async', ends: ['CONFIRMED', 'EXPIRED'], diesInRequest: true, waitExpiresWhileDown: true },
];

/**
 * One kill point: crash at it, restart without the fault, wait for recovery to finish the saga,
 * then check the order, the client's retry, the reservation and the invariants.
 */
async function crashAndRecover(lane: Lane, scenario: Scenario): Promise<void> {
  const sku = lane.nextSku();
  const key = `chaos-${randomUUID()}`;
  let shopper: { token: string; userId: string };
  let answer: { status: number; text: string } | Error;

  const crashing = await startAgora({ ...lane.env, AGORA_FAULT_KILL_AT: scenario.point });
  try {
    const admin = await shop.adminToken(crashing.api);
    await shop.createSku(crashing.api, admin, sku, PRICE, INITIAL_STOCK);
    lane.initialStock.set(sku, INITIAL_STOCK);
    shopper = await shop.registerShopper(crashing.api);
    await shop.addToCart(crashing.api, shopper.token, sku, QUANTITY);
    answer = await settled(shop.checkout(crashing.api, shopper.token, key, scenario.card).then((res) => ({ status: res.status, text: res.text })));
    await expectKilledAt(crashing, scenario.point, answer);
    if (scenario.diesInRequest) {
      // The process died mid-request: the client saw the connection drop, not an answer.
      expect(answer, `checkout answered before the crash: ${JSON.stringify(answer)}`).toBeInstanceOf(Error);
    } else if (!(answer instanceof Error)) {
      expect(answer.status, answer.text).toBe(202);
    }
  } finally {
    await crashing.kill();
  }

  const [crashed, ...others] = await ordersOf(lane, shopper.userId);
  expect(crashed, 'the crash left the order and its saga').toBeDefined();
  expect(others).toHaveLength(0);
  if (!crashed) return;

  if (scenario.atCrash) {
    expect(await crashLeft(lane, crashed.id, crashed.id), `what the crash at ${scenario.point} left:\n${await sagaLog(lane, crashed.id)}`).toEqual(scenario.atCrash);
  }

  if (scenario.waitExpiresWhileDown) {
    const moved = await lane.storage.query(
      sql`update orders.sagas set wait_until = now() - interval '1 second' where id = ${crashed.id}::uuid and status = 'WAITING' returning id`,
    );
    expect(moved, `the crash left saga ${crashed.id} WAITING:\n${await sagaLog(lane, crashed.id)}`).toHaveLength(1);
  }

  const recovering = await startAgora(lane.env);
  try {
    const final = await waitFor(
      async () => {
        const [order] = await ordersOf(lane, shopper.userId);
        return order && order.finished && TERMINAL_ORDER.includes(order.status) ? order : undefined;
      },
      RECOVERY_WAIT_MS,
      async () => `order ${crashed.id} never became terminal with its saga finished after ${scenario.point}:\n${await sagaLog(lane, crashed.id)}\n${recovering.output()}`,
    );
    const context = `${scenario.point} (${scenario.card}):\n${await sagaLog(lane, crashed.id)}`;
    expect(scenario.ends, context).toContain(final.status);
    expect(final.sagaStatus, context).toBe(final.status === 'CONFIRMED' ? 'COMPLETED' : 'COMPENSATED');

    await expectRetryAnswersSameOrder(recovering, shopper.token, key, scenario, answer instanceof Error ? undefined : answer.status, final, context);
    expect(await ordersOf(lane, shopper.userId), 'no second order').toHaveLength(1);

    const intents = await lane.storage.query<{ status: string; captured_amount: number; refunded_amount: number }>(
      sql`select status, captured_amount, refunded_amount from payment.intents where order_id = ${final.id}::uuid`,
    );
    expect(intents.length, `one payment intent per order, whatever was re-run: ${context}`).toBe(1);
    const captured = intents.filter((i) => Number(i.captured_amount) > 0);
    expect(captured.length, context).toBe(final.status === 'CONFIRMED' ? 1 : 0);
    const sold = final.status === 'CONFIRMED';
    if (!sold && scenario.unsold?.intent) expect(intents.map((i) => i.status), context).toEqual([scenario.unsold.intent]);
    if (!sold) {
      // Recovery never ran a capture forward again (a relearned charge would have let it succeed).
      const captures = await lane.storage.query<{ outcome: string | null }>(sql`
        select a.outcome from payment.attempts a join payment.intents i on i.id = a.intent_id
        where i.order_id = ${final.id}::uuid and a.operation = 'capture' and a.outcome = 'succeeded'`);
      expect(captures, context).toEqual([]);
    }

    const reservations = await lane.storage.query<{ status: string }>(sql`select status from inventory.reservations where id = ${final.id}::uuid`);
    for (const r of reservations) expect(r.status, `reservation of ${final.id}: ${context}`).not.toBe('HELD');
    expect(reservations.map((r) => r.status), context).toEqual([sold ? 'COMMITTED' : (scenario.unsold?.reservation ?? 'RELEASED')]);
    const [stock] = await lane.storage.query<{ on_hand: number; reserved: number }>(sql`select on_hand, reserved from inventory.stock where sku = ${sku}`);
    expect(stock, context).toEqual({ on_hand: sold ? INITIAL_STOCK - QUANTITY : INITIAL_STOCK, reserved: 0 });

    const report = await checkInvariants({ inventory: lane.storage, orders: lane.storage, payment: lane.storage, initialStock: lane.initialStock });
    expect(report.violations, `${context}\n${JSON.stringify(report)}`).toEqual([]);
  } finally {
    const stopped = await recovering.stop();
    expect(stopped, recovering.output()).toEqual({ code: 0, signal: null });
  }
}

/**
 * The client retries its checkout with the same Idempotency-Key. A checkout that never answered
 * (the crash cut it) finds its order by the key (kept on the order), joins or waits for its saga
 * and answers the order as it is now; one that answered 202 before the crash replays that 202 (same order) — as may one whose
 * 202 was stored just before the crash but never reached the client. The order itself shows the
 * final status either way.
 */
async function expectRetryAnswersSameOrder(
  proc: AgoraProcess,
  token: string,
  key: string,
  scenario: Scenario,
  firstAnswer: number | undefined,
  final: OrderState,
  context: string,
): Promise<void> {
  const retry = await shop.checkout(proc.api, token, key, scenario.card);
  const body = retry.body as { id?: string; status?: string; order?: { id: string; status: string } };
  const order = retry.status < 300 ? body : body.order;
  const finalAnswer = { CONFIRMED: 201, PAYMENT_FAILED: 402, REJECTED: 409, EXPIRED: 409, CANCELLED: 409 }[final.status];
  const allowed = firstAnswer !== undefined ? [firstAnswer] : scenario.diesInRequest ? [finalAnswer] : [finalAnswer, 202];
  expect(allowed, `retry answered ${retry.status}: ${retry.text}\n${context}`).toContain(retry.status);
  expect(order?.id, `retry: ${retry.text}`).toBe(final.id);
  if (retry.status !== 202) expect(order?.status).toBe(final.status);
  const read = await proc.api.get<{ id: string; status: string }>(`/api/v1/orders/${final.id}`, { token });
  expect(read.status).toBe(200);
  expect(read.body.status).toBe(final.status);
}

/**
 * A lane: its scenarios in sequence on one fresh PostgreSQL database (required under
 * AGORA_REQUIRE_SERVICES=1). Lanes live in separate test files so vitest runs them in parallel.
 */
export async function crashLane(name: string, scenarios: readonly Scenario[]): Promise<void> {
  const postgres = await postgresBackend.available();
  describe.runIf(postgres)(`checkout crash recovery: ${name} (PostgreSQL)`, () => {
    const current = new Lane(name);
    beforeAll(() => current.open());
    afterAll(() => current.close());
    for (const scenario of scenarios) {
      const down = scenario.waitExpiresWhileDown ? ', payment window over while down' : '';
      it(`killed at ${scenario.point}${down} → restart ends the order in ${scenario.ends.join('/')} with stock and money conserved`, () => crashAndRecover(current, scenario), 240_000);
    }
  });
}
