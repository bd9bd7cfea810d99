import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResponse } from '../support/http.js';
import { expectProblem, signWebhook, type Order } from '../support/shop.js';
import { TEST_JWT_SECRET, openWorld, postgresVariant, type FuzzWorld } from './fixture.js';
import { fillPath, validValue, type Operation, type ValuePool } from './openapi.js';
import { forgedTokens } from './tokens.js';

/**
 * The authorization sweep, derived from the published OpenAPI document so a new route is swept
 * without a line here: forged, expired and alg-none tokens on every secured route (401), a
 * customer on every admin route (403), a customer with another user's ids on every id-taking
 * route (404), spoofed x-agora-user-* headers at the gateway (ignored), and the payment webhook
 * unsigned, forged, replayed and delivered concurrently (applied once). None changes the state.
 */

const WEBHOOK = '/api/v1/payments/webhook';
/** Copies of one valid webhook delivered at once. */
const CONCURRENT_DELIVERIES = 12;
/** Older than the payment service's signature tolerance (5 minutes). */
const STALE_SECONDS = 10 * 60;
/** Seed of the one valid body sampled per operation (any valid body will do; fixed so runs compare). */
const BODY_SEED = 11;

const now = (): number => Math.floor(Date.now() / 1000);

/** One request per operation that is valid in every part but the one a case breaks. */
function validRequest(op: Operation, pool: ValuePool): { path: string; body: unknown; headers: Record<string, string> } {
  const sample = <T>(arbitrary: fc.Arbitrary<T>): T => fc.sample(arbitrary, { seed: BODY_SEED, numRuns: 1 })[0] as T;
  const values: Record<string, string> = {};
  for (const p of op.params.filter((q) => q.in === 'path')) values[p.name] = encodeURIComponent(String(sample(validValue(p.schema, p.name, pool))));
  const headers: Record<string, string> = {};
  for (const p of op.params.filter((q) => q.in === 'header' && q.required)) headers[p.name] = p.name === 'idempotency-key' ? randomUUID() : String(sample(validValue(p.schema, p.name, pool)));
  return { path: fillPath(op.path, values), body: op.body ? sample(validValue(op.body, 'body', pool)) : undefined, headers };
}

describe.runIf(await postgresVariant.available())('authorization sweep over the OpenAPI document, on PostgreSQL', () => {
  let world: FuzzWorld;
  let pool: ValuePool;
  let forged: Record<string, string>;
  /** A SKU in the other shopper's cart (the customer's cart holds none of it). */
  let otherCartSku: string;

  const request = (op: Operation, token: string | undefined, extra: { path?: string; headers?: Record<string, string> } = {}): Promise<ApiResponse> => {
    const valid = validRequest(op, pool);
    return world.api.request(op.method, extra.path ?? valid.path, {
      ...(token === undefined ? {} : { token }),
      ...(valid.body === undefined ? {} : { body: valid.body }),
      headers: { ...valid.headers, ...extra.headers },
    });
  };

  beforeAll(async () => {
    // The sandbox settles tok_async payments after a minute, so the test delivers the verdict itself.
    world = await openWorld(postgresVariant, { AGORA_PAYMENT_SANDBOX_ASYNC_DELAY_MS: '60000' });
    const { customer, other } = world;
    forged = await forgedTokens(TEST_JWT_SECRET, { sub: customer.id, role: 'customer', email: customer.email }, customer.token);
    otherCartSku = world.skus[1] as string;
    await world.shop.add(other, otherCartSku, 2);
    pool = {
      id: [world.productId],
      sku: [world.skus[0] as string],
      quantity: [1],
      onHand: [1_000_000],
      token: ['tok_visa'],
      country: ['US'],
      currency: ['USD'],
      category: ['fuzz'],
      email: [customer.email],
      password: ['correct horse battery'],
    };
  });
  afterAll(async () => world?.shop.stop());

  it('every secured route refuses forged, expired, alg-none and malformed tokens with 401, changing nothing', async () => {
    const secured = world.operations.filter((op) => op.secured);
    expect(secured.length).toBeGreaterThan(10);
    const before = await world.digest();
    for (const op of secured) {
      for (const [kind, token] of Object.entries(forged)) {
        const res = await request(op, token);
        expect(res.status, `${op.id} with ${kind}: ${res.text}`).toBe(401);
        expectProblem(res, 401, 'UNAUTHENTICATED');
        expect(res.headers.get('x-request-id')).toBeTruthy();
      }
      expectProblem(await request(op, undefined), 401, 'UNAUTHENTICATED');
    }
    expect(await world.digest()).toBe(before);
  });

  it('every admin route refuses a customer with 403, even one claiming the admin role in x-agora-user-* headers, changing nothing', async () => {
    const admin = world.operations.filter((op) => op.admin);
    expect(admin.length).toBeGreaterThanOrEqual(4);
    const before = await world.digest();
    for (const op of admin) {
      expectProblem(await request(op, world.customer.token), 403, 'FORBIDDEN');
      const spoofed = await request(op, world.customer.token, { headers: { 'x-agora-user-role': 'admin', 'x-agora-user-id': randomUUID() } });
      expect(spoofed.status, `${op.id} with spoofed headers`).toBe(403);
      expectProblem(await request(op, undefined, { headers: { 'x-agora-user-role': 'admin', 'x-agora-user-id': world.other.id } }), 401, 'UNAUTHENTICATED');
    }
    expect(await world.digest()).toBe(before);
  });

  it("every id-taking route answers a customer holding another user's ids with 404, changing nothing of theirs", async () => {
    // Routes of a signed-in user (not admin) with a path parameter, each filled with what belongs to
    // the other shopper. An `id` names a resource with an owner (an order): 404, nothing changed.
    // Other parameters scope to the caller's own things (a SKU in *my* cart): the other's stay as they were.
    const theirs: Record<string, string> = { id: world.otherOrder.id, sku: otherCartSku };
    const idRoutes = world.operations.filter((op) => op.secured && !op.admin && op.params.some((p) => p.in === 'path'));
    expect(idRoutes.map((op) => op.id)).toEqual(expect.arrayContaining(['getOrder', 'cancelOrder', 'payOrder']));
    const otherCart = await world.shop.cart(world.other);
    const otherOrder = await world.shop.order(world.other, world.otherOrder.id);
    for (const op of idRoutes) {
      const params = op.params.filter((p) => p.in === 'path');
      const owned = params.some((p) => p.name === 'id');
      const values = Object.fromEntries(params.map((p) => [p.name, encodeURIComponent(theirs[p.name] ?? randomUUID())]));
      for (const headers of [{}, { 'x-agora-user-id': world.other.id }] as Record<string, string>[]) {
        const before = await world.digest();
        const res = await request(op, world.customer.token, { path: fillPath(op.path, values), headers });
        if (owned) {
          expect(res.status, `${op.id}: ${res.text}`).toBe(404);
          expectProblem(res, 404, 'NOT_FOUND');
          expect(await world.digest(), `${op.id} changed the state`).toBe(before);
        } else expect(res.status, `${op.id}: ${res.text}`).toBeLessThan(500);
        expect(await world.shop.cart(world.other), `${op.id} touched the other's cart`).toEqual(otherCart);
        expect(await world.shop.order(world.other, world.otherOrder.id), `${op.id} touched the other's order`).toEqual(otherOrder);
      }
    }
  });

  it('spoofed x-agora-user-id / x-agora-user-role headers are ignored at the gateway', async () => {
    const me = await world.api.get<{ id: string; role: string }>('/api/v1/me', { token: world.customer.token, headers: { 'x-agora-user-id': world.other.id, 'x-agora-user-role': 'admin' } });
    expect(me.status, me.text).toBe(200);
    expect(me.body).toMatchObject({ id: world.customer.id, role: 'customer' });
    const theirs = await world.api.get<{ items: Order[] }>('/api/v1/orders', { token: world.customer.token, headers: { 'x-agora-user-id': world.other.id } });
    expect(theirs.status).toBe(200);
    expect(theirs.body.items.map((o) => o.id)).not.toContain(world.otherOrder.id);
    const cart = await world.api.get<{ items: { sku: string }[] }>('/api/v1/cart', { token: world.customer.token, headers: { 'X-Agora-User-Id': world.other.id } });
    expect(cart.body.items.map((i) => i.sku)).not.toContain(otherCartSku);
    expectProblem(await world.api.get('/api/v1/me', { headers: { 'x-agora-user-id': world.customer.id, 'x-agora-user-role': 'admin' } }), 401, 'UNAUTHENTICATED');
  });

  it('the webhook: unsigned, forged and replayed deliveries are 401 and change nothing; one valid delivery sent concurrently is applied once', async () => {
    const shopper = world.customer;
    await world.shop.add(shopper, world.skus[0] as string, 1);
    const pending = await world.shop.checkout(shopper, 'tok_async');
    expect(pending.status, pending.text).toBe(202);
    const payment = await world.shop.storage('payment');
    const [intent] = await payment.query<{ id: string; providerRef: string }>(sql`select id, provider_ref as "providerRef" from payment.intents where order_id = ${pending.body.id}::uuid`);
    if (!intent) throw new Error('no payment intent for the pending order');
    const event = JSON.stringify({ id: `evt_${randomUUID()}`, type: 'payment.authorized', paymentId: intent.id, providerRef: intent.providerRef });
    const deliver = (signature: string | undefined): Promise<ApiResponse<{ received?: boolean; outcome?: string }>> =>
      world.api.request('POST', WEBHOOK, { rawBody: event, headers: { 'content-type': 'application/json', ...(signature === undefined ? {} : { 'agora-signature': signature }) } });

    const before = await world.digest();
    const refused: [string, string | undefined][] = [
      ['unsigned', undefined],
      ['forged (another secret)', signWebhook(event, now(), 'a-forger-guessing-the-secret-0000')],
      ['forged (zeros)', `t=${now()},v1=${'0'.repeat(64)}`],
      ['replayed (stale timestamp)', signWebhook(event, now() - STALE_SECONDS)],
      ['signature of another body', signWebhook(event.replace('authorized', 'declined'), now())],
    ];
    for (const [label, signature] of refused) {
      const res = await deliver(signature);
      expect(res.status, `${label}: ${res.text}`).toBe(401);
      expectProblem(res, 401, 'INVALID_SIGNATURE');
    }
    expect(await world.digest()).toBe(before);
    expect((await world.shop.order(shopper, pending.body.id)).status).toBe('RESERVED');

    const signature = signWebhook(event, now());
    const answers = await Promise.all(Array.from({ length: CONCURRENT_DELIVERIES }, () => deliver(signature)));
    for (const answer of answers) expect(answer.status, answer.text).toBe(200);
    const outcomes = answers.map((a) => a.body.outcome);
    expect(outcomes.filter((o) => o === 'applied'), JSON.stringify(outcomes)).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'applied' && o !== 'duplicate'), JSON.stringify(outcomes)).toEqual([]);
    const recorded = await payment.query<{ n: number }>(sql`select count(*)::int as n from payment.webhook_events where payment_id = ${intent.id}::uuid`);
    expect(recorded[0]?.n).toBe(1);
    const confirmed = await world.shop.waitForOrder(shopper, pending.body.id, ['CONFIRMED', 'PAYMENT_FAILED', 'CANCELLED', 'EXPIRED']);
    expect(confirmed.status).toBe('CONFIRMED');
    expect(confirmed.history.filter((h) => h.status === 'CONFIRMED')).toHaveLength(1);
    // A replay of the applied delivery later, freshly signed, is a duplicate; stale, a 401.
    expect((await deliver(signWebhook(event, now()))).body.outcome).toBe('duplicate');
    expectProblem(await deliver(signWebhook(event, now() - STALE_SECONDS)), 401, 'INVALID_SIGNATURE');
  });
});
