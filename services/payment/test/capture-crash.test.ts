import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { systemClock, type Money } from '@agora/kernel';
import type { payment } from '@agora/contracts';
import type { Executor, Storage, Tx } from '@agora/platform';
import { testBackends } from '@agora/platform/testing';
import {
  PAYMENT_MIGRATIONS,
  SandboxProvider,
  createPaymentModule,
  paymentFacts,
  paymentInvariantViolations,
  providerKeys,
  type OperationResult,
  type PaymentProvider,
  type PaymentService,
} from '../src/index.js';
import { WEBHOOK_SECRET, authorizeBody, paymentDeps } from './helpers.js';

/** Short, so the restarted instance re-drives the dead one's capture within its wait for the lease. */
const CRASH_LEASE_MS = 200;

/** The process's storage until it dies: from then on every statement fails, and the one that died is kept. */
class DyingStorage implements Storage {
  dead = false;
  refused: string | undefined;

  constructor(private readonly inner: Storage) {}

  get kind(): Storage['kind'] {
    return this.inner.kind;
  }

  get db(): Storage['db'] {
    if (this.dead) throw new Error('simulated crash: the process is gone');
    return this.inner.db;
  }

  migrate(service: string, folder: string): Promise<void> {
    return this.inner.migrate(service, folder);
  }

  query<Row>(statement: SQL, executor?: Executor): Promise<Row[]> {
    if (this.dead) {
      this.refused ??= new PgDialect().sqlToQuery(statement).sql;
      return Promise.reject(new Error('simulated crash: the process is gone'));
    }
    return this.inner.query(statement, executor);
  }

  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.dead) return Promise.reject(new Error('simulated crash: the process is gone'));
    return this.inner.transaction(work);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The ledger, passed through; `afterCapture` runs once the provider has captured. */
class CrashAfterCapture implements PaymentProvider {
  readonly name: string;

  constructor(
    private readonly ledger: SandboxProvider,
    private readonly afterCapture: () => void,
  ) {
    this.name = ledger.name;
  }

  authorize: PaymentProvider['authorize'] = (request) => this.ledger.authorize(request);
  void: PaymentProvider['void'] = (ref, key) => this.ledger.void(ref, key);
  refund: PaymentProvider['refund'] = (ref, amount, key) => this.ledger.refund(ref, amount, key);

  async capture(ref: string, amount: Money, key: string): Promise<OperationResult> {
    const result = await this.ledger.capture(ref, amount, key);
    this.afterCapture();
    return result;
  }
}

async function instance(storage: Storage, provider: PaymentProvider): Promise<PaymentService> {
  const module = createPaymentModule({ provider: () => provider, config: { lease: { leaseMs: CRASH_LEASE_MS } } });
  const service = await module.create(paymentDeps(storage));
  await service.app.ready();
  return service;
}

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`capture crash on ${backend.kind}`, () => {
    let storage: Storage;
    let release: () => Promise<void>;
    /** The provider's ledger: it outlives our processes, as a real provider's does. */
    let ledger: SandboxProvider;
    const services: PaymentService[] = [];

    beforeAll(async () => {
      const opened = await backend.open();
      storage = opened.storage;
      release = opened.release;
      await storage.migrate('payment', PAYMENT_MIGRATIONS);
      ledger = new SandboxProvider({ secret: WEBHOOK_SECRET, clock: systemClock, deliver: async () => undefined });
    });
    afterAll(async () => {
      for (const service of services) await service.app.close();
      await ledger?.stop();
      await release?.();
    });

    it('a crash between the provider capture and the intent update: the retry with the same key captures once', async () => {
      const dying = new DyingStorage(storage);
      const first = await instance(dying, new CrashAfterCapture(ledger, () => (dying.dead = true)));
      services.push(first);
      const intent = await first.payments.authorize(authorizeBody('tok_visa'));
      expect(intent.status).toBe('AUTHORIZED');
      const key = `cap-${intent.id}`;

      await expect(first.payments.capture(intent.id, key)).rejects.toThrow(/simulated crash/);
      // The fault fired where it should: the provider captured, the write recording it died.
      expect(ledger.stats.effects.captures).toBe(1);
      expect(dying.refused).toMatch(/update payment\.intents set status = 'CAPTURED'/);
      const second = await instance(storage, ledger);
      services.push(second);
      const stuck = await second.store.findById(intent.id);
      expect(stuck).toMatchObject({ status: 'AUTHORIZED', leaseOp: 'capture', capturedAmount: 0 });
      expect(stuck?.captureStartedAt).not.toBeNull();
      expect((await second.store.attemptsOf(intent.id, 'capture')).map((a) => [a.attemptNo, a.outcome])).toEqual([[1, null]]);

      // A new instance, the same database and ledger: the retry waits out the dead one's lease.
      const res = await second.app.inject({ method: 'POST', url: `/payments/${intent.id}/capture`, payload: { idempotencyKey: key } });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<payment.PaymentIntent>()).toMatchObject({ status: 'CAPTURED', capturedAmount: intent.amount });

      expect(ledger.stats.effects.captures).toBe(1);
      expect(ledger.stats.calls.capture).toBe(2);
      const attempts = await second.store.attemptsOf(intent.id, 'capture');
      expect(attempts.map((a) => [a.attemptNo, a.outcome])).toEqual([
        [1, null],
        [2, 'succeeded'],
      ]);
      expect(attempts.every((a) => a.providerKey === providerKeys.capture(intent.id))).toBe(true);
      expect(await paymentFacts(storage, { key: intent.id, type: 'payment.captured' })).toHaveLength(1);
      expect(await second.store.findById(intent.id)).toMatchObject({ status: 'CAPTURED', leaseOp: null, leaseUntil: null });
      expect(await paymentInvariantViolations(storage)).toEqual([]);
    });
  });
}
