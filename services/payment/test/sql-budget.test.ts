import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { systemClock } from '@agora/kernel';
import { createLogger, type Storage } from '@agora/platform';
import { postgresBackend } from '@agora/platform/testing';
import { PAYMENT_DEFAULTS, PAYMENT_MIGRATIONS, Payments, PaymentStore, SandboxProvider, paymentFacts } from '../src/index.js';
import { countSql } from './sql-counter.js';
import { WEBHOOK_SECRET, authorizeBody } from './helpers.js';

/**
 * The payment service's share of the checkout's SQL budget (one authorize + one capture), on real
 * PostgreSQL: one write before each provider call (the intent or the lease, with the attempt) and
 * one after it (the outcome with the attempt's, and for a capture the outbox fact); no explicit
 * transaction, nothing read back.
 */
const AUTHORIZE_BUDGET = { statements: 2, durableCommits: 2, transactions: 0 };
const CAPTURE_BUDGET = { statements: 2, durableCommits: 2, transactions: 0 };
/** A repeat answers from the one statement that would have created the intent. */
const AUTHORIZE_REPLAY_BUDGET = { statements: 1 };
const CAPTURE_REPLAY_BUDGET = { statements: 1 };

describe.runIf(await postgresBackend.available())('payment SQL budget on postgres', () => {
  let storage: Storage;
  let release: () => Promise<void>;
  let payments: Payments;
  let sandbox: SandboxProvider;

  beforeAll(async () => {
    const opened = await postgresBackend.open();
    storage = opened.storage;
    release = opened.release;
    await storage.migrate('payment', PAYMENT_MIGRATIONS);
    sandbox = new SandboxProvider({ secret: WEBHOOK_SECRET, clock: systemClock, deliver: async () => undefined });
    payments = new Payments({
      store: new PaymentStore(storage),
      provider: sandbox,
      clock: systemClock,
      logger: createLogger('payment', 'silent'),
      retry: { attempts: PAYMENT_DEFAULTS.providerAttempts, backoffMs: 1 },
      lease: { leaseMs: PAYMENT_DEFAULTS.leaseMs, waitMs: PAYMENT_DEFAULTS.leaseWaitMs, pollMs: PAYMENT_DEFAULTS.leasePollMs },
    });
  });
  afterAll(async () => {
    await sandbox?.stop();
    await release?.();
  });

  it('the counter sees every round trip, a transaction as one durable commit, reads as none', async () => {
    const { count } = await countSql(async () => {
      await storage.query(sql`select 1`);
      await storage.transaction(async (tx) => {
        await storage.query(sql`select 1`, tx);
        await storage.query(sql`update payment.intents set updated_at = updated_at where false`, tx);
      });
      await storage.query(sql`with x as (update payment.intents set updated_at = updated_at where false returning id) select count(*) from x`);
    });
    expect(count).toMatchObject({ statements: 6, transactions: 1, durableCommits: 2 });
  });

  it('authorize: 2 statements, 2 durable commits; capture: 2 and 2; their repeats 1 statement each', async () => {
    const body = authorizeBody('tok_visa');
    const authorized = await countSql(() => payments.authorize(body));
    expect(authorized.result.status).toBe('AUTHORIZED');
    expect(authorized.count, authorized.count.texts.join('\n')).toMatchObject(AUTHORIZE_BUDGET);

    const captured = await countSql(() => payments.capture(authorized.result.id, `cap-${authorized.result.id}`));
    expect(captured.result).toMatchObject({ status: 'CAPTURED', capturedAmount: body.amount });
    expect(captured.count, captured.count.texts.join('\n')).toMatchObject(CAPTURE_BUDGET);

    // Built from the statements' own RETURNING: the answers equal what a read gives now.
    expect(await payments.get(authorized.result.id)).toEqual(captured.result);
    const store = new PaymentStore(storage);
    expect((await store.attemptsOf(authorized.result.id)).map((a) => [a.operation, a.attemptNo, a.outcome])).toEqual([
      ['authorize', 1, 'approved'],
      ['capture', 1, 'succeeded'],
    ]);
    expect(await paymentFacts(storage, { key: authorized.result.id, type: 'payment.captured' })).toHaveLength(1);

    const replayedAuthorize = await countSql(() => payments.authorize(body));
    expect(replayedAuthorize.result.id).toBe(authorized.result.id);
    expect(replayedAuthorize.count).toMatchObject(AUTHORIZE_REPLAY_BUDGET);
    const replayedCapture = await countSql(() => payments.capture(authorized.result.id, 'another-key'));
    expect(replayedCapture.result).toEqual(captured.result);
    expect(replayedCapture.count).toMatchObject(CAPTURE_REPLAY_BUDGET);
  });
});
