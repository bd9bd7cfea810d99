import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '@agora/kernel';
import { Shop, checkoutBody, expectFieldError } from '../support/shop.js';
import { systemVariants } from '../support/system.js';

/** Times the oversized body is sent with fetch: every one must read the 413, none an EPIPE or a reset. */
const OVERSIZED_SENDS = 10;

/** `{"a":{"a":...}}` nested `depth` levels, as raw JSON (no recursion to build or send it). */
const nested = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/**
 * Input no route may take (a NUL PostgreSQL cannot store; JSON nested far beyond any body) is a
 * 400 naming the field at the gateway — never a 500 from a store nor a 503 from a stack blown
 * further in — and nothing is written.
 */
for (const variant of systemVariants) {
  describe.runIf(await variant.available())(`hostile input on ${variant.name}`, () => {
    let shop: Shop;
    beforeAll(async () => {
      shop = await Shop.open(variant);
    });
    afterAll(async () => shop?.stop());

    it('a NUL in a body string is a 400 naming the field, and nothing is written', async () => {
      const email = `nul-${randomUUID()}@test.agora`;
      expectFieldError(await shop.api.post('/api/v1/auth/register', { email, password: 'correct horse battery', name: 'Sam\u0000Shopper' }), 'name');
      expectFieldError(await shop.api.post('/api/v1/auth/login', { email: `a\u0000${email}`, password: 'correct horse battery' }), 'email');
      // Not registered by the refused request: the same e-mail registers now.
      expect((await shop.api.post('/api/v1/auth/register', { email, password: 'correct horse battery', name: 'Sam Shopper' })).status).toBe(201);

      const shopper = await shop.register();
      const sku = await shop.sku(1_000, 5, 'NUL');
      await shop.add(shopper, sku, 1);
      const body = checkoutBody('tok_visa');
      const refused = await shop.api.post('/api/v1/checkout', { ...body, shippingAddress: { ...body.shippingAddress, name: 'Sam\u0000' } }, { token: shopper.token, headers: { 'idempotency-key': randomUUID() } });
      expectFieldError(refused, 'shippingAddress.name');
      expect(await shop.allOrders(shopper)).toEqual([]);
      expect(await shop.stockRow(sku)).toEqual({ onHand: 5, reserved: 0 });
    });

    it('a lone surrogate in a body string is a 400 naming the field (PostgreSQL cannot store it), and nothing is written', async () => {
      const shopper = await shop.register();
      const sku = await shop.sku(1_000, 5, 'SURROGATE');
      await shop.add(shopper, sku, 1);
      const body = checkoutBody('tok_visa');
      // JSON.stringify writes a lone surrogate as the escape "\ud83d", as any client would send it.
      const refused = await shop.api.post('/api/v1/checkout', { ...body, shippingAddress: { ...body.shippingAddress, line2: 'a\ud83d' } }, { token: shopper.token, headers: { 'idempotency-key': randomUUID() } });
      expectFieldError(refused, 'shippingAddress.line2');
      expectFieldError(await shop.api.post('/api/v1/auth/register', { email: `s-${randomUUID()}@test.agora`, password: 'correct horse battery', name: '\udfffSam' }), 'name');
      expect(await shop.allOrders(shopper)).toEqual([]);
      expect(await shop.stockRow(sku)).toEqual({ onHand: 5, reserved: 0 });
      // A well-formed pair (an emoji) is fine.
      const ok = await shop.api.post('/api/v1/checkout', { ...body, shippingAddress: { ...body.shippingAddress, line2: 'flat 🛒' } }, { token: shopper.token, headers: { 'idempotency-key': randomUUID() } });
      expect(ok.status, ok.text).toBe(201);
    });

    it(`JSON nested deeper than ${LIMITS.jsonDepth} levels is a 400, also inside an unknown property`, async () => {
      const deep = (await shop.api.post('/api/v1/auth/login', undefined, { rawBody: `{"email":"x@test.agora","password":"12345678","extra":${nested(5_000)}}` })) as Awaited<ReturnType<typeof shop.api.post>>;
      const problem = expectFieldError(deep, `extra${'.a'.repeat(LIMITS.jsonDepth - 1)}`);
      expect(problem.detail).toBeDefined();
      const shallow = await shop.api.post('/api/v1/auth/login', undefined, { rawBody: `{"email":"x@test.agora","password":"12345678","extra":${nested(3)}}` });
      // Within the limit the body reaches the route, whose schema drops the unknown property: wrong credentials, not a 400.
      expect(shallow.status).toBe(401);
    });

    it(`a 2 MiB JSON body sent with fetch gets 413 problem+json, ${OVERSIZED_SENDS} times out of ${OVERSIZED_SENDS} (the server reads the body it refuses)`, async () => {
      const body = JSON.stringify({ email: 'big@test.agora', password: 'x'.repeat(2 * LIMITS.bodyBytes) });
      const answers: string[] = [];
      for (let i = 0; i < OVERSIZED_SENDS; i++) {
        // Alternate a Content-Length body and a streamed (chunked) one: Fastify refuses the first unread, the second part-read.
        const streamed = i % 2 === 1;
        try {
          const res = await fetch(`${shop.system.baseUrl}/api/v1/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: streamed ? new Blob([body]).stream() : body,
            ...(streamed ? { duplex: 'half' } : {}),
          } as RequestInit);
          const problem = (await res.json()) as { code?: string; status?: number };
          answers.push(`${res.status} ${res.headers.get('content-type')?.split(';')[0]} ${problem.code} ${res.headers.get('x-request-id') ? 'id' : 'no-id'}`);
        } catch (err) {
          answers.push(`fetch failed: ${String((err as { cause?: unknown }).cause ?? err)}`);
        }
      }
      expect(answers).toEqual(Array.from({ length: OVERSIZED_SENDS }, () => '413 application/problem+json PAYLOAD_TOO_LARGE id'));
      // The server is still there for the next request.
      expect((await shop.api.get('/health/live')).status).toBe(200);
    });
  });
}
