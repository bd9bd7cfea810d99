import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStorage } from '@agora/platform';
import { createTestDatabase, postgresBackend } from '@agora/platform/testing';
import { checkInvariants } from '../support/invariants.js';
import { baseEnv, shop, sleep, startAgora, waitFor, type AgoraProcess, type Exit } from './harness.js';

/**
 * Crash tests of the checkout saga (DESIGN.md sections 2 and 9). For each kill point, `agora
 * start` runs with AGORA_FAULT_KILL_AT (services/order/src/app/faults.ts): a shopper checks out
 * and the process SIGKILLs itself when the saga reaches that point — before a step's side effect
 * (STARTED) or after it (DONE). The remote steps are replayed (no log write of their own), so
 * DONE of one is "after effect k, before any checkpoint": recovery must run every step again from
 * the saga's birth and each must answer "already done". Then `agora start` runs again without
 * the fault on the same database, and the test waits until recovery has finished the saga, and
 * checks from the databases themselves:
 * - the order is terminal, in a status this scenario may end in (CONFIRMED, or compensated);
 * - the client's retry with the same Idempotency-Key answers the same order: no second order,
 *   no second payment intent, nothing captured twice;
 * - the order's stock reservation is not left HELD;
 * - `checkInvariants`: stock and money conserved over every order of the database so far.
 *
 * Each lane runs its points in sequence on one fresh database (distinct SKU and shopper per
 * point), so every later point also re-checks the earlier ones. Leases and the checkout's
 * idempotency lock are shortened so recovery does not wait the production 30 s / 60 s.
 */

const CHECKOUT_STEPS = ['open', 'reserveStock', 'authorizePayment', 'commitStock', 'capturePayment', 'clearCart', 'confirm'] as const;
const TERMINAL_ORDER = ['CONFIRMED', 'REJECTED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED'];

export interface Scenario {
  /** AGORA_FAULT_KILL_AT */
  point: string;
  card: 'tok_visa' | 'tok_declined' | 'tok_async';
  /** Order statuses this scenario may end in. */
  ends: readonly string[];
  /** False when the checkout may answer (202) before the kill: the saga goes on after the response. */
  diesInRequest: boolean;
  /** While the process is down: its payment wait runs past its deadline (wait_until moved to the past). */
  waitExpiresWhileDown?: boolean;
}

export const visaScenarios: Scenario[] = CHECKOUT_STEPS.flatMap((step) =>
  (['STARTED', 'DONE'] as const).map((status) => ({
    point: `checkout:${step}:run:${status}`,
    card: 'tok_visa' as const,
    // Compensating would keep stock and money too, but recovery resumes forward: nothing about a
    // crash makes an approved card's checkout fail, so anything but CONFIRMED means a step broke
    // after the restart (as capture did when the sandbox provider forgot its charges).
    ends: ['CONFIRMED'],
    diesInRequest: true,
  })),
);

/** tok_declined: authorizePayment aborts, reserveStock and open are compensated; kill along that path. */
export const declinedScenarios: Scenario[] = [
  'checkout:authorizePayment:run:FAILED',
  'checkout:reserveStock:compensate:STARTED',
  'checkout:reserveStock:compensate:DONE',
  'checkout:open:compensate:STARTED',
].map((point) => ({ point, card: 'tok_declined' as const, ends: ['PAYMENT_FAILED'], diesInRequest: true }));

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
    ...['open', 'reserveStock'].flatMap((step) => [`checkout:${step}:run:STARTED`, `checkout:${step}:run:DONE`]),
    'checkout:authorizePayment:run:STARTED',
    'checkout:authorizePayment:run:WAITING:WAITING',
    'checkout:authorizePayment:run:WAITING:RUNNING',
    'checkout:authorizePayment:run:DONE',
    ...['commitStock', 'capturePayment', 'clearCart', 'confirm'].flatMap((step) => [`checkout:${step}:run:STARTED`, `checkout:${step}:run:DONE`]),
  ].map((point) => ({
    point,
    card: 'tok_async' as const,
    ends: ['CONFIRMED'],
    // Up to the pause the saga runs in the request; after it, in the payment.settled handler (the client has its 202).
    diesInRequest: !/WAITING:RUNNING|authorizePayment:run:DONE|commitStock|capturePayment|clearCart|confirm/.test(point),
  })),
  { point: 'checkout:authorizePayment:run:WAITING:WAITING', card: 'tok_async', ends: ['CONFIRMED', 'EXPIRED'], diesInRequest: true, waitExpiresWhileDown: true },
];

/** One fresh database and data dir; its points run in sequence and share it. */
class Lane {
  readonly initialStock = new Map<string, number>();
  storage!: PostgresStorage;
  env!: Record<string, string>;
  private database!: { url: string; drop(): Promise<void> };
  private dataDir!: string;
  private seq = 0;

  constructor(readonly name: string) {}

  async open(): Promise<void> {
    this.database = await createTestDatabase(`agora_chaos_${this.name}`);
    this.dataDir = mkdtempSync(join(tmpdir(), `agora-chaos-${this.name}-`));
    this.storage = new PostgresStorage({ url: this.database.url, poolMax: 4 });
    this.env = {
      ...baseEnv(this.database.url, this.dataDir),
      // Both the crashing and the recovering process: the dead one's leases must expire quickly.
      AGORA_SAGA_LEASE_MS: '1000',
      AGORA_SAGA_RECOVERY_INTERVAL_MS: '200',
      // The crashed checkout's Idempotency-Key stays IN_PROGRESS; the retry may take it over after this.
      AGORA_CHECKOUT_LOCK_TIMEOUT_MS: '1000',
      // tok_async settles this long after authorizing: ample for the saga to pause first (the WAITING kill point).
      AGORA_PAYMENT_SANDBOX_ASYNC_DELAY_MS: '1000',
    };
  }

  async close(): Promise<void> {
    await this.storage?.close();
    await this.database?.drop();
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  nextSku(): string {
    this.seq += 1;
    return `CHAOS-${this.name.toUpperCase()}-${this.seq}-${randomUUID().slice(0, 8)}`;
  }
}

interface OrderState {
  id: string;
  status: string;
  sagaStatus: string;
  finished: boolean;
}

async function orderOf(lane: Lane, userId: string): Promise<OrderState[]> {
  const rows = await lane.storage.query<{ id: string; status: string; saga_status: string | null; finished_at: Date | null }>(sql`
    select o.id, o.status, s.status as saga_status, s.finished_at
    from orders.orders o left join orders.sagas s on s.id = o.id
    where o.user_id = ${userId}::uuid`);
  return rows.map((r) => ({ id: String(r.id), status: r.status, sagaStatus: r.saga_status ?? 'NONE', finished: r.finished_at !== null }));
}

async function sagaLog(lane: Lane, sagaId: string): Promise<string> {
  const steps = await lane.storage.query<{ step: string; phase: string; status: string; attempts: number; error: string | null }>(sql`
    select step, phase, status, attempts, error from orders.saga_steps where saga_id = ${sagaId}::uuid
    order by phase desc, case when phase = 'run' then position else -position end`);
  const [saga] = await lane.storage.query<Record<string, unknown>>(sql`select status, current_step, attempts, state, wait_until, lease_until from orders.sagas where id = ${sagaId}::uuid`);
  const intents = await lane.storage.query<Record<string, unknown>>(sql`select status, provider_ref, captured_amount, refunded_amount from payment.intents where order_id = ${sagaId}::uuid`);
  return JSON.stringify({ saga, steps, intents }, null, 1);
}

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
  let exit: Exit | undefined;
  try {
    const admin = await shop.adminToken(crashing.api);
    await shop.createSku(crashing.api, admin, sku, 1250, 5);
    lane.initialStock.set(sku, 5);
    shopper = await shop.registerShopper(crashing.api);
    await shop.addToCart(crashing.api, shopper.token, sku, 2);
    answer = await shop.checkout(crashing.api, shopper.token, key, scenario.card).then(
      (res) => ({ status: res.status, text: res.text }),
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
    exit = await Promise.race([crashing.exited, sleep(30_000).then(() => undefined)]);
    expect(exit, `the process should have died at ${scenario.point}; checkout answered ${JSON.stringify(answer)}\n${crashing.output()}`).toEqual({ code: null, signal: 'SIGKILL' });
    expect(crashing.output()).toContain(`AGORA_FAULT_KILL_AT=${scenario.point}: SIGKILL`);
    if (scenario.diesInRequest) {
      // The process died mid-request: the client saw the connection drop, not an answer.
      expect(answer, `checkout answered before the crash: ${JSON.stringify(answer)}`).toBeInstanceOf(Error);
    } else if (!(answer instanceof Error)) {
      expect(answer.status, answer.text).toBe(202);
    }
  } finally {
    await crashing.kill();
  }

  const [crashed, ...others] = await orderOf(lane, shopper.userId);
  expect(crashed, 'the crash left the order and its saga').toBeDefined();
  expect(others).toHaveLength(0);
  if (!crashed) return;

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
        const [order] = await orderOf(lane, shopper.userId);
        return order && order.finished && TERMINAL_ORDER.includes(order.status) ? order : undefined;
      },
      60_000,
      async () => `order ${crashed.id} never became terminal with its saga finished after ${scenario.point}:\n${await sagaLog(lane, crashed.id)}\n${recovering.output()}`,
    );
    const context = `${scenario.point} (${scenario.card}):\n${await sagaLog(lane, crashed.id)}`;
    expect(scenario.ends, context).toContain(final.status);
    expect(final.sagaStatus, context).toBe(final.status === 'CONFIRMED' ? 'COMPLETED' : 'COMPENSATED');

    await expectRetryAnswersSameOrder(recovering, shopper.token, key, scenario, answer instanceof Error ? undefined : answer.status, final, context);
    expect(await orderOf(lane, shopper.userId), 'no second order').toHaveLength(1);

    const intents = await lane.storage.query<{ status: string; captured_amount: number; refunded_amount: number }>(
      sql`select status, captured_amount, refunded_amount from payment.intents where order_id = ${final.id}::uuid`,
    );
    expect(intents.length, `one payment intent per order, whatever was re-run: ${context}`).toBe(1);
    const captured = intents.filter((i) => Number(i.captured_amount) > 0);
    expect(captured.length, context).toBe(final.status === 'CONFIRMED' ? 1 : 0);

    const reservations = await lane.storage.query<{ status: string }>(sql`select status from inventory.reservations where id = ${final.id}::uuid`);
    for (const r of reservations) expect(r.status, `reservation of ${final.id}: ${context}`).not.toBe('HELD');
    expect(reservations.map((r) => r.status), context).toEqual([final.status === 'CONFIRMED' ? 'COMMITTED' : 'RELEASED']);

    const report = await checkInvariants({ inventory: lane.storage, orders: lane.storage, payment: lane.storage, initialStock: lane.initialStock });
    expect(report.violations, `${context}\n${JSON.stringify(report)}`).toEqual([]);
  } finally {
    const stopped = await recovering.stop();
    expect(stopped, recovering.output()).toEqual({ code: 0, signal: null });
  }
}

/**
 * The client retries its checkout with the same Idempotency-Key. A checkout that never answered
 * (the crash cut it) runs again once its key's lock times out and answers the order as it is
 * now; one that answered 202 before the crash replays that 202 (same order) — as may one whose
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
