import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { newId } from '@agora/kernel';
import { PostgresStorage, type Storage } from '@agora/platform';
import { postgresBackend } from '@agora/platform/testing';
import { PAYMENT_MIGRATIONS } from '../src/index.js';
import { authorizeBody, startPayment, usd, type Harness, type ProblemBody } from './helpers.js';

/**
 * The payment service as it runs in `agora cluster`: several processes on one database, each with
 * its own sandbox ledger, and a database that may run out of connections.
 */
/** Time for the pool to drop a connection the server ended before the next query asks it for one. */
const POOL_NOTICES_MS = 200;

describe.runIf(await postgresBackend.available())('payment across processes and faults (real PostgreSQL)', () => {
  let storage: Storage;
  let url: string;
  let release: () => Promise<void>;
  let a: Harness;
  let b: Harness;

  beforeAll(async () => {
    const opened = await postgresBackend.open();
    storage = opened.storage;
    url = opened.url ?? '';
    release = opened.release;
    await storage.migrate('payment', PAYMENT_MIGRATIONS);
    a = await startPayment(storage);
    b = await startPayment(storage);
  });
  afterAll(async () => {
    await a.service.stop();
    await b.service.stop();
    await release();
  });

  it('a charge authorized by one process and captured by another is refunded by the first (its ledger catches up), and a void there is refused', async () => {
    const intent = await a.service.payments.authorize(authorizeBody('tok_visa', { amount: usd(2500) }));
    expect(intent.status).toBe('AUTHORIZED');
    expect((await b.service.payments.capture(intent.id, `cap-${newId()}`)).status).toBe('CAPTURED');
    await expect(a.service.payments.void(intent.id, `void-${newId()}`)).rejects.toMatchObject({ code: 'CONFLICT' });
    const refunded = await a.service.payments.refund(intent.id, usd(2500), `refund-${newId()}`);
    expect(refunded.status).toBe('REFUNDED');
    expect(refunded.refundedAmount.amount).toBe(2500);
  });

  it('a database out of connections (real 53300) answers 503 with Retry-After, not 500; the same request succeeds once it has them', async () => {
    const role = `agora_pay_${newId().replaceAll('-', '').slice(0, 12)}`;
    await storage.query(sql.raw(`create role ${role} login connection limit 1`));
    await storage.query(sql.raw(`grant all on schema payment to ${role}`));
    await storage.query(sql.raw(`grant all on all tables in schema payment to ${role}`));
    const limitedUrl = new URL(url);
    limitedUrl.username = role;
    const limited = new PostgresStorage({ url: limitedUrl.toString(), poolMax: 1, connectionTimeoutMs: 1_000 });
    const starved = await startPayment(limited);
    try {
      // The role may hold no connection now: the pool's idle one is ended, a new one is refused (53300).
      await storage.query(sql.raw(`alter role ${role} connection limit 0`));
      await storage.query(sql.raw(`select pg_terminate_backend(pid) from pg_stat_activity where usename = '${role}'`));
      await new Promise((resolve) => setTimeout(resolve, POOL_NOTICES_MS));
      const body = authorizeBody('tok_visa');
      const res = await starved.service.app.inject({ method: 'POST', url: '/payments/authorize', payload: body });
      expect(res.statusCode).toBe(503);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      const problem = res.json<ProblemBody>();
      expect(problem.code).toBe('UNAVAILABLE');
      expect(problem.detail).toContain('too_many_connections');

      await storage.query(sql.raw(`alter role ${role} connection limit 5`));
      const again = await starved.service.app.inject({ method: 'POST', url: '/payments/authorize', payload: body });
      expect(again.statusCode).toBe(200);
      expect(again.json<{ status: string }>().status).toBe('AUTHORIZED');
    } finally {
      await starved.service.stop();
      await limited.close();
      await storage.query(sql.raw(`drop owned by ${role}`));
      await storage.query(sql.raw(`drop role if exists ${role}`));
    }
  });
});
