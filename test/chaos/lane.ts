import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { PostgresStorage } from '@agora/platform';
import { createTestDatabase } from '@agora/platform/testing';
import { baseEnv, sleep, type AgoraProcess } from './harness.js';

/**
 * What the crash lanes share: one fresh database per lane, the readers that check a crash's
 * outcome from the databases themselves, and the proof that the planned fault fired.
 */

/** How long a process may take to reach its kill point once the request that leads there is sent. */
export const KILL_WAIT_MS = 30_000;
/** How long the restarted process may take to finish the crashed saga (leases here are 1 s). */
export const RECOVERY_WAIT_MS = 60_000;

/** One fresh database and data dir; its points run in sequence and share it. */
export class Lane {
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

export interface OrderState {
  id: string;
  status: string;
  /** The status of the order's checkout saga (same id as the order). */
  sagaStatus: string;
  finished: boolean;
}

/** A shopper's orders with their checkout sagas. */
export async function ordersOf(lane: Lane, userId: string): Promise<OrderState[]> {
  const rows = await lane.storage.query<{ id: string; status: string; saga_status: string | null; finished_at: Date | null }>(sql`
    select o.id, o.status, s.status as saga_status, s.finished_at
    from orders.orders o left join orders.sagas s on s.id = o.id
    where o.user_id = ${userId}::uuid`);
  return rows.map((r) => ({ id: String(r.id), status: r.status, sagaStatus: r.saga_status ?? 'NONE', finished: r.finished_at !== null }));
}

/** A saga's row, its step log and its order's payment intents, for failure messages. */
export async function sagaLog(lane: Lane, sagaId: string, orderId = sagaId): Promise<string> {
  const steps = await lane.storage.query<{ step: string; phase: string; status: string; attempts: number; error: string | null }>(sql`
    select step, phase, status, attempts, error from orders.saga_steps where saga_id = ${sagaId}::uuid
    order by phase desc, case when phase = 'run' then position else -position end`);
  const [saga] = await lane.storage.query<Record<string, unknown>>(
    sql`select name, status, current_step, attempts, state, wait_until, lease_until, finished_at from orders.sagas where id = ${sagaId}::uuid`,
  );
  const intents = await lane.storage.query<Record<string, unknown>>(
    sql`select status, provider_ref, captured_amount, refunded_amount from payment.intents where order_id = ${orderId}::uuid`,
  );
  return JSON.stringify({ saga, steps, intents }, null, 1);
}

/**
 * The planned fault fired: the process died by SIGKILL and first printed the kill line naming
 * `point` (faults.ts), so no other death passes for it. `answer` is what the request got, for the message.
 */
export async function expectKilledAt(proc: AgoraProcess, point: string, answer: unknown): Promise<void> {
  const exit = await Promise.race([proc.exited, sleep(KILL_WAIT_MS).then(() => undefined)]);
  expect(exit, `the process should have died at ${point}; the request answered ${JSON.stringify(answer)}\n${proc.output()}`).toEqual({ code: null, signal: 'SIGKILL' });
  expect(proc.output()).toContain(`AGORA_FAULT_KILL_AT=${point}: SIGKILL`);
}

/** A request's answer, or the error of a connection the crash cut. */
export function settled<T>(request: Promise<T>): Promise<T | Error> {
  return request.then(
    (res) => res,
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );
}
