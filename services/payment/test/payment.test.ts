import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { newId } from '@agora/kernel';
import type { payment } from '@agora/contracts';
import type { HttpApp, Storage } from '@agora/platform';
import { testBackends } from '@agora/platform/testing';
import { PAYMENT_MIGRATIONS, paymentFacts, paymentInvariantViolations, paymentTotals, providerKeys } from '../src/index.js';
import { SANDBOX_CAPTURE_DECLINE_CODE } from '../src/sandbox/sandbox-provider.js';
import { authorizeBody, signed, startPayment, usd, type Harness, type ProblemBody } from './helpers.js';

type Intent = payment.PaymentIntent;

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`payment on ${backend.kind}`, () => {
    let storage: Storage;
    let release: () => Promise<void>;
    let h: Harness;
    let app: HttpApp;
    /** A second instance whose sandbox settles `tok_async` only after the suite: webhooks are ours to send. */
    let quiet: Harness;

    beforeAll(async () => {
      const opened = await backend.open();
      storage = opened.storage;
      release = opened.release;
      await storage.migrate('payment', PAYMENT_MIGRATIONS);
      h = await startPayment(storage);
      app = h.service.app;
      quiet = await startPayment(storage, { sandboxAsyncDelayMs: 60_000 });
    });
    afterAll(async () => {
      await quiet?.service.stop();
      await h?.service.stop();
      await release?.();
    });

    const authorize = async (body: payment.AuthorizeBody, target: HttpApp = app): Promise<Intent> => {
      const res = await target.inject({ method: 'POST', url: '/payments/authorize', payload: body });
      expect(res.statusCode, res.body).toBe(200);
      return res.json<Intent>();
    };
    const post = (path: string, payload: unknown, target: HttpApp = app) => target.inject({ method: 'POST', url: path, payload: payload as object });
    const authorized = async (amount = 1000, orderId = newId()): Promise<Intent> => {
      const intent = await authorize(authorizeBody('tok_visa', { amount: usd(amount), orderId }));
      expect(intent.status).toBe('AUTHORIZED');
      return intent;
    };
    const captured = async (amount = 1000): Promise<Intent> => {
      const intent = await authorized(amount);
      const res = await post(`/payments/${intent.id}/capture`, { idempotencyKey: `cap-${intent.id}` });
      expect(res.statusCode, res.body).toBe(200);
      return res.json<Intent>();
    };

    describe('authorize', () => {
      it('approves tok_visa', async () => {
        const body = authorizeBody('tok_visa');
        const intent = await authorize(body);
        expect(intent).toMatchObject({
          orderId: body.orderId,
          userId: body.userId,
          amount: usd(1000),
          status: 'AUTHORIZED',
          provider: 'sandbox',
          capturedAmount: usd(0),
          refundedAmount: usd(0),
        });
        expect(intent.declineCode).toBeUndefined();
        expect((await app.inject({ method: 'GET', url: `/payments/${intent.id}` })).json()).toEqual(intent);
      });

      it('declines tok_declined, tok_insufficient_funds and unknown tokens with their codes, as a 200', async () => {
        const cases: [string, string][] = [
          ['tok_declined', 'card_declined'],
          ['tok_insufficient_funds', 'insufficient_funds'],
          ['tok_no_such_card', 'invalid_token'],
        ];
        for (const [token, code] of cases) {
          const intent = await authorize(authorizeBody(token));
          expect(intent.status, token).toBe('DECLINED');
          expect(intent.declineCode, token).toBe(code);
        }
      });

      it('is idempotent by key: one provider call, the same intent; the same key with another body is 422', async () => {
        const body = authorizeBody('tok_visa');
        const before = h.service.sandbox.stats.calls.authorize;
        const first = await authorize(body);
        const second = await authorize(body);
        expect(second).toEqual(first);
        expect(h.service.sandbox.stats.calls.authorize - before).toBe(1);
        expect(h.provider.callsWith('authorize', providerKeys.authorize(first.id))).toBe(1);

        const other = await post('/payments/authorize', { ...body, amount: usd(999) });
        expect(other.statusCode).toBe(422);
        expect(other.json<ProblemBody>().code).toBe('IDEMPOTENCY_MISMATCH');
      });

      it('concurrent authorizations with one key make one intent and one charge', async () => {
        const body = authorizeBody('tok_visa');
        const before = h.service.sandbox.stats.effects.authorizations;
        const results = await Promise.all(Array.from({ length: 10 }, () => post('/payments/authorize', body)));
        expect(results.every((r) => r.statusCode === 200)).toBe(true);
        expect(new Set(results.map((r) => r.json<Intent>().id)).size).toBe(1);
        expect(h.service.sandbox.stats.effects.authorizations - before).toBe(1);
      });

      it('re-drives an authorization that never heard back, with the same provider idempotency key', async () => {
        const body = authorizeBody('tok_visa');
        h.provider.crashNextAuthorize = true;
        const crashed = await post('/payments/authorize', body);
        expect(crashed.statusCode).toBe(500);
        const [stuck] = (await app.inject({ method: 'GET', url: `/payments?orderId=${body.orderId}` })).json<payment.PaymentList>().items;
        expect(stuck?.status).toBe('PENDING');
        const attemptsBefore = await h.service.store.attemptsOf(stuck?.id ?? '', 'authorize');
        expect(attemptsBefore).toHaveLength(1);
        expect(attemptsBefore[0]?.outcome).toBe('error');

        const retried = await authorize(body);
        expect(retried.id).toBe(stuck?.id);
        expect(retried.status).toBe('AUTHORIZED');
        expect(h.provider.callsWith('authorize', providerKeys.authorize(retried.id))).toBe(2);
        expect((await h.service.store.attemptsOf(retried.id, 'authorize')).map((a) => [a.attemptNo, a.outcome])).toEqual([
          [1, 'error'],
          [2, 'approved'],
        ]);
      });

      it('tok_error: retried a bounded number of times, then FAILED; a repeat does not call again', async () => {
        const body = authorizeBody('tok_error');
        const intent = await authorize(body);
        expect(intent.status).toBe('FAILED');
        expect(intent.declineCode).toBe('provider_error');
        const attempts = h.service.config.retry.attempts;
        expect(h.provider.callsWith('authorize', providerKeys.authorize(intent.id))).toBe(attempts);
        const rows = await h.service.store.attemptsOf(intent.id, 'authorize');
        expect(rows.map((r) => r.outcome)).toEqual(Array.from({ length: attempts }, () => 'error'));
        expect(rows.every((r) => r.providerKey === providerKeys.authorize(intent.id))).toBe(true);

        expect(await authorize(body)).toEqual(intent);
        expect(h.provider.callsWith('authorize', providerKeys.authorize(intent.id))).toBe(attempts);
      });

      it('names the field of a bad body and refuses a zero amount', async () => {
        const bad = await post('/payments/authorize', { ...authorizeBody('tok_visa'), amount: { amount: 10.5, currency: 'USD' } });
        expect(bad.statusCode).toBe(400);
        expect(bad.json<ProblemBody>().errors?.[0]?.path).toBe('amount.amount');
        const { token: _token, ...noToken } = authorizeBody('tok_visa');
        const missing = await post('/payments/authorize', noToken);
        expect(missing.statusCode).toBe(400);
        expect(missing.json<ProblemBody>().errors?.[0]?.path).toBe('token');
        const zero = await post('/payments/authorize', authorizeBody('tok_visa', { amount: usd(0) }));
        expect(zero.statusCode).toBe(400);
        expect(zero.json<ProblemBody>().errors?.[0]?.path).toBe('amount.amount');
      });
    });

    describe('capture and void', () => {
      it('captures the full amount once; capturing again is a no-op; the captured fact is written once', async () => {
        const intent = await authorized(2500);
        const first = await post(`/payments/${intent.id}/capture`, { idempotencyKey: 'k1' });
        expect(first.statusCode).toBe(200);
        expect(first.json<Intent>()).toMatchObject({ status: 'CAPTURED', capturedAmount: usd(2500) });
        const again = await post(`/payments/${intent.id}/capture`, { idempotencyKey: 'k2' });
        expect(again.json()).toEqual(first.json());
        expect(h.provider.callsWith('capture', providerKeys.capture(intent.id))).toBe(1);
        const facts = await paymentFacts(storage, { key: intent.id, type: 'payment.captured' });
        expect(facts).toHaveLength(1);
        expect(facts[0]?.payload).toEqual({ paymentId: intent.id, orderId: intent.orderId, amount: usd(2500) });
        expect(h.notifier.captured.filter((f) => f.paymentId === intent.id)).toHaveLength(1);
      });

      it('20 concurrent captures of one intent capture it exactly once', async () => {
        const intent = await authorized(4200);
        const before = h.service.sandbox.stats.effects.captures;
        // Hold the one capture that wins the lease at the provider until every other caller has
        // found the lease taken: they must wait, not call the provider.
        let open: () => void = () => undefined;
        h.provider.captureGate = new Promise<void>((resolve) => (open = resolve));
        const busy = new Set<string>();
        const claimLease = h.service.store.claimLease.bind(h.service.store);
        const spy = vi.spyOn(h.service.store, 'claimLease').mockImplementation(async (...args) => {
          const result = await claimLease(...args);
          // args[3] is the caller's idempotency key: one per concurrent request.
          if (!result.claimed && result.reason === 'busy') busy.add(args[3]);
          return result;
        });
        const pending = Promise.all(Array.from({ length: 20 }, (_, i) => post(`/payments/${intent.id}/capture`, { idempotencyKey: `cc-${i}` })));
        try {
          await vi.waitFor(() => expect(busy.size).toBeGreaterThanOrEqual(19), { timeout: 3_000, interval: 5 });
        } finally {
          h.provider.captureGate = undefined;
          open();
        }
        const results = await pending;
        spy.mockRestore();
        expect(results.map((r) => r.statusCode)).toEqual(Array.from({ length: 20 }, () => 200));
        for (const r of results) expect(r.json<Intent>()).toMatchObject({ status: 'CAPTURED', capturedAmount: usd(4200) });
        expect(h.service.sandbox.stats.effects.captures - before).toBe(1);
        expect(h.provider.callsWith('capture', providerKeys.capture(intent.id))).toBe(1);
        expect(await paymentFacts(storage, { key: intent.id, type: 'payment.captured' })).toHaveLength(1);
      });

      it('refuses to capture what is not authorized, and to void what is captured (409)', async () => {
        const declined = await authorize(authorizeBody('tok_declined'));
        const capture = await post(`/payments/${declined.id}/capture`, { idempotencyKey: 'x' });
        expect(capture.statusCode).toBe(409);
        expect(capture.json<ProblemBody>().code).toBe('CONFLICT');

        const done = await captured();
        const voided = await post(`/payments/${done.id}/void`, { idempotencyKey: 'v' });
        expect(voided.statusCode).toBe(409);
        expect((await app.inject({ method: 'GET', url: `/payments/${done.id}` })).json<Intent>().status).toBe('CAPTURED');
      });

      it('never captures two intents of one order', async () => {
        const orderId = newId();
        const a = await authorized(1000, orderId);
        const b = await authorized(1000, orderId);
        expect((await post(`/payments/${a.id}/capture`, { idempotencyKey: 'a' })).statusCode).toBe(200);
        const second = await post(`/payments/${b.id}/capture`, { idempotencyKey: 'b' });
        expect(second.statusCode).toBe(409);
        expect((await app.inject({ method: 'GET', url: `/payments/${b.id}` })).json<Intent>().status).toBe('AUTHORIZED');
      });

      it('voids an authorization once; a repeat answers the same; capture after void is 409', async () => {
        const intent = await authorized();
        const first = await post(`/payments/${intent.id}/void`, { idempotencyKey: 'v1' });
        expect(first.statusCode).toBe(200);
        expect(first.json<Intent>().status).toBe('VOIDED');
        const again = await post(`/payments/${intent.id}/void`, { idempotencyKey: 'v2' });
        expect(again.json()).toEqual(first.json());
        expect(h.provider.callsWith('void', providerKeys.void(intent.id))).toBe(1);
        expect((await post(`/payments/${intent.id}/capture`, { idempotencyKey: 'c' })).statusCode).toBe(409);
      });

      it('void of a declined payment holds nothing and answers it as is', async () => {
        const declined = await authorize(authorizeBody('tok_declined'));
        const res = await post(`/payments/${declined.id}/void`, { idempotencyKey: 'v' });
        expect(res.statusCode).toBe(200);
        expect(res.json<Intent>().status).toBe('DECLINED');
      });

      it('tok_capture_fails: authorized, its capture refused once as a 409 (not retried, not 503), then voidable', async () => {
        const intent = await authorize(authorizeBody('tok_capture_fails', { amount: usd(1500) }));
        expect(intent.status).toBe('AUTHORIZED');
        const capturesBefore = h.service.sandbox.stats.effects.captures;

        const refused = await post(`/payments/${intent.id}/capture`, { idempotencyKey: 'cf' });
        expect(refused.statusCode, refused.body).toBe(409);
        expect(refused.json<ProblemBody>()).toMatchObject({ code: 'CONFLICT', detail: expect.stringContaining(SANDBOX_CAPTURE_DECLINE_CODE) });
        // A refusal is the provider's answer: one call, no retry with the same key.
        expect(h.provider.callsWith('capture', providerKeys.capture(intent.id))).toBe(1);
        expect((await h.service.store.attemptsOf(intent.id, 'capture')).map((a) => a.outcome)).toEqual(['error']);
        expect(h.service.sandbox.stats.effects.captures).toBe(capturesBefore);
        expect(await paymentFacts(storage, { key: intent.id, type: 'payment.captured' })).toEqual([]);
        const after = (await app.inject({ method: 'GET', url: `/payments/${intent.id}` })).json<Intent>();
        expect(after).toMatchObject({ status: 'AUTHORIZED', capturedAmount: usd(0) });

        // The lease was released: the compensation voids the authorization, and the hold is gone.
        const voided = await post(`/payments/${intent.id}/void`, { idempotencyKey: 'cf-void' });
        expect(voided.statusCode, voided.body).toBe(200);
        expect(voided.json<Intent>().status).toBe('VOIDED');
        const providerRef = (await h.service.store.findById(intent.id))?.providerRef ?? '';
        expect(h.service.sandbox.chargeOf(providerRef)).toMatchObject({ state: 'voided', captured: 0 });
      });

      it('answers 404 for an unknown payment', async () => {
        expect((await app.inject({ method: 'GET', url: `/payments/${newId()}` })).statusCode).toBe(404);
        expect((await post(`/payments/${newId()}/capture`, { idempotencyKey: 'k' })).statusCode).toBe(404);
      });
    });

    describe('refund', () => {
      it('refunds partially then fully; a retried key refunds once; over-refunds and key reuse are refused', async () => {
        const intent = await captured(1000);
        const partial = await post(`/payments/${intent.id}/refund`, { amount: usd(300), idempotencyKey: 'r1' });
        expect(partial.statusCode).toBe(200);
        expect(partial.json<Intent>()).toMatchObject({ status: 'CAPTURED', refundedAmount: usd(300) });

        const retry = await post(`/payments/${intent.id}/refund`, { amount: usd(300), idempotencyKey: 'r1' });
        expect(retry.json<Intent>().refundedAmount).toEqual(usd(300));
        const reused = await post(`/payments/${intent.id}/refund`, { amount: usd(200), idempotencyKey: 'r1' });
        expect(reused.statusCode).toBe(422);

        const over = await post(`/payments/${intent.id}/refund`, { amount: usd(701), idempotencyKey: 'r2' });
        expect(over.statusCode).toBe(409);
        expect(over.json<ProblemBody>().errors?.[0]?.path).toBe('amount.amount');

        const wrongCurrency = await post(`/payments/${intent.id}/refund`, { amount: { amount: 1, currency: 'EUR' }, idempotencyKey: 'r3' });
        expect(wrongCurrency.statusCode).toBe(400);

        const rest = await post(`/payments/${intent.id}/refund`, { amount: usd(700), idempotencyKey: 'r4' });
        expect(rest.json<Intent>()).toMatchObject({ status: 'REFUNDED', capturedAmount: usd(1000), refundedAmount: usd(1000) });
        expect((await post(`/payments/${intent.id}/refund`, { amount: usd(1), idempotencyKey: 'r5' })).statusCode).toBe(409);
        expect(h.service.sandbox.chargeOf((await h.service.store.findById(intent.id))?.providerRef ?? '')?.refunded).toBe(1000);
      });

      it('concurrent refunds never add up to more than was captured', async () => {
        const intent = await captured(1000);
        const results = await Promise.all(Array.from({ length: 15 }, (_, i) => post(`/payments/${intent.id}/refund`, { amount: usd(100), idempotencyKey: `cr-${i}` })));
        expect(results.filter((r) => r.statusCode === 200)).toHaveLength(10);
        expect(results.filter((r) => r.statusCode === 409)).toHaveLength(5);
        const final = (await app.inject({ method: 'GET', url: `/payments/${intent.id}` })).json<Intent>();
        expect(final).toMatchObject({ status: 'REFUNDED', refundedAmount: usd(1000) });
      });

      it('refuses to refund what was not captured', async () => {
        const intent = await authorized();
        const res = await post(`/payments/${intent.id}/refund`, { amount: usd(100), idempotencyKey: 'r' });
        expect(res.statusCode).toBe(409);
      });
    });

    describe('asynchronous authorization and webhooks', () => {
      it('tok_async is PENDING, then the sandbox webhook authorizes it and the settled fact is recorded', async () => {
        const pending = await authorize(authorizeBody('tok_async'));
        expect(pending.status).toBe('PENDING');
        const fact = await h.notifier.settledOf(pending.id);
        expect(fact).toEqual({ paymentId: pending.id, orderId: pending.orderId, status: 'AUTHORIZED' });
        expect((await app.inject({ method: 'GET', url: `/payments/${pending.id}` })).json<Intent>().status).toBe('AUTHORIZED');
        const facts = await paymentFacts(storage, { key: pending.id, type: 'payment.settled' });
        expect(facts).toHaveLength(1);
        expect(facts[0]?.payload).toEqual(fact);
        // Settled means capturable.
        expect((await post(`/payments/${pending.id}/capture`, { idempotencyKey: 'c' })).json<Intent>().status).toBe('CAPTURED');
      });

      const pendingOnQuiet = async (): Promise<{ intent: Intent; providerRef: string }> => {
        const intent = await authorize(authorizeBody('tok_async'), quiet.service.app);
        expect(intent.status).toBe('PENDING');
        const row = await quiet.service.store.findById(intent.id);
        return { intent, providerRef: row?.providerRef ?? '' };
      };
      const webhook = (delivery: { payload: string; headers: Record<string, string> }) =>
        quiet.service.app.inject({ method: 'POST', url: '/webhooks/sandbox', payload: delivery.payload, headers: delivery.headers });
      const statusOf = async (id: string) => (await quiet.service.app.inject({ method: 'GET', url: `/payments/${id}` })).json<Intent>().status;

      it('refuses a bad or missing signature with 401 and changes nothing', async () => {
        const { intent, providerRef } = await pendingOnQuiet();
        const event = { id: `evt_${newId()}`, type: 'payment.authorized', paymentId: intent.id, providerRef };
        const wrongSecret = await webhook(signed(event, { secret: 'not-the-secret-at-all-0000' }));
        expect(wrongSecret.statusCode).toBe(401);
        expect(wrongSecret.json<ProblemBody>().code).toBe('INVALID_SIGNATURE');
        const good = signed(event);
        const missing = await webhook({ payload: good.payload, headers: { 'content-type': 'application/json' } });
        expect(missing.statusCode).toBe(401);
        const tampered = await webhook({ payload: JSON.stringify({ ...event, type: 'payment.declined' }), headers: good.headers });
        expect(tampered.statusCode).toBe(401);
        const garbage = await webhook({ payload: good.payload, headers: { ...good.headers, 'agora-signature': 'nonsense' } });
        expect(garbage.statusCode).toBe(401);
        expect(await statusOf(intent.id)).toBe('PENDING');
        expect(await quiet.service.store.webhookOutcome('sandbox', event.id)).toBeUndefined();
      });

      it('refuses a replayed (old) or far-future timestamp with 401', async () => {
        const { intent, providerRef } = await pendingOnQuiet();
        const event = { id: `evt_${newId()}`, type: 'payment.authorized', paymentId: intent.id, providerRef };
        expect((await webhook(signed(event, { at: new Date(Date.now() - 10 * 60_000) }))).statusCode).toBe(401);
        expect((await webhook(signed(event, { at: new Date(Date.now() + 10 * 60_000) }))).statusCode).toBe(401);
        expect(await statusOf(intent.id)).toBe('PENDING');
      });

      it('processes an event id once: a duplicate delivery answers 200 and changes nothing', async () => {
        const { intent, providerRef } = await pendingOnQuiet();
        const event = { id: `evt_${newId()}`, type: 'payment.declined', paymentId: intent.id, providerRef, declineCode: 'insufficient_funds' };
        const first = await webhook(signed(event));
        expect(first.statusCode).toBe(200);
        expect(first.json()).toEqual({ received: true, outcome: 'applied' });
        const duplicate = await webhook(signed(event));
        expect(duplicate.statusCode).toBe(200);
        expect(duplicate.json()).toEqual({ received: true, outcome: 'duplicate' });
        const final = (await quiet.service.app.inject({ method: 'GET', url: `/payments/${intent.id}` })).json<Intent>();
        expect(final).toMatchObject({ status: 'DECLINED', declineCode: 'insufficient_funds' });
        const facts = await paymentFacts(storage, { key: intent.id, type: 'payment.settled' });
        expect(facts.map((f) => f.payload)).toEqual([{ paymentId: intent.id, orderId: intent.orderId, status: 'DECLINED', reason: 'insufficient_funds' }]);

        // Another event about an intent that is final already is ignored, idempotently.
        const late = await webhook(signed({ id: `evt_${newId()}`, type: 'payment.authorized', paymentId: intent.id, providerRef }));
        expect(late.json()).toEqual({ received: true, outcome: 'ignored' });
        expect(await statusOf(intent.id)).toBe('DECLINED');
        const unknown = await webhook(signed({ id: `evt_${newId()}`, type: 'payment.authorized', paymentId: newId(), providerRef: 'x' }));
        expect(unknown.json()).toEqual({ received: true, outcome: 'ignored' });
      });

      it('ignores an event naming another provider reference', async () => {
        const { intent } = await pendingOnQuiet();
        const res = await webhook(signed({ id: `evt_${newId()}`, type: 'payment.authorized', paymentId: intent.id, providerRef: 'sbx_ch_someone_else' }));
        expect(res.json()).toEqual({ received: true, outcome: 'ignored' });
        expect(await statusOf(intent.id)).toBe('PENDING');
      });

      it('answers 400 to malformed JSON and names the field of a wrong shape', async () => {
        const malformed = await webhook(signed(undefined, { raw: '{"id": "evt_1", "type": ' }));
        expect(malformed.statusCode).toBe(400);
        expect(malformed.json<ProblemBody>().code).toBe('VALIDATION_FAILED');
        const unsigned = await quiet.service.app.inject({ method: 'POST', url: '/webhooks/sandbox', payload: '{oops', headers: { 'content-type': 'application/json' } });
        expect(unsigned.statusCode).toBe(400);
        const shape = await webhook(signed({ id: `evt_${newId()}`, type: 'payment.refunded', paymentId: newId(), providerRef: 'x' }));
        expect(shape.statusCode).toBe(400);
        expect(shape.json<ProblemBody>().errors?.some((e) => e.path === 'type')).toBe(true);
      });

      it('voiding a pending payment makes its late authorization harmless', async () => {
        const { intent, providerRef } = await pendingOnQuiet();
        expect((await post(`/payments/${intent.id}/void`, { idempotencyKey: 'v' }, quiet.service.app)).json<Intent>().status).toBe('VOIDED');
        const late = await webhook(signed({ id: `evt_${newId()}`, type: 'payment.authorized', paymentId: intent.id, providerRef }));
        expect(late.json()).toEqual({ received: true, outcome: 'ignored' });
        expect(await statusOf(intent.id)).toBe('VOIDED');
      });
    });

    describe('ledger', () => {
      it('lists the intents of an order', async () => {
        const orderId = newId();
        const declined = await authorize(authorizeBody('tok_declined', { orderId }));
        const approved = await authorize(authorizeBody('tok_visa', { orderId }));
        const list = (await app.inject({ method: 'GET', url: `/payments?orderId=${orderId}` })).json<payment.PaymentList>();
        expect(list.items.map((i) => i.id)).toEqual([declined.id, approved.id]);
        expect((await app.inject({ method: 'GET', url: '/payments?orderId=nope' })).statusCode).toBe(400);
      });

      it('keeps the invariant the chaos checker relies on', async () => {
        const totals = await paymentTotals(storage);
        expect(totals.captured).toBeGreaterThan(0);
        expect(totals.refunded).toBeLessThanOrEqual(totals.captured);
        expect([...totals.capturedIntentsByOrder.values()].every((n) => n === 1)).toBe(true);
        expect(totals.byCurrency.get('USD')?.captured).toBe(totals.captured);
        expect(await paymentInvariantViolations(storage)).toEqual([]);

        const before = await paymentTotals(storage);
        const intent = await captured(777);
        await post(`/payments/${intent.id}/refund`, { amount: usd(77), idempotencyKey: 'l' });
        const after = await paymentTotals(storage);
        expect(after.captured - before.captured).toBe(777);
        expect(after.refunded - before.refunded).toBe(77);
        expect(after.capturedIntentsByOrder.get(intent.orderId)).toBe(1);
      });
    });
  });
}
