import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenService } from '@agora/platform';
import { VerifiedTokens } from '../src/auth.js';
import { CUSTOMER_ID, bearer, buildGateway, json, type TestGateway } from './fakes.js';

const SECRET = 'verified-tokens-test-secret-of-32-bytes!';
const TTL_SECONDS = 60;
const T0 = Date.parse('2026-03-01T12:00:00Z');
const claims = (sub: string, role: 'customer' | 'admin' = 'customer') => ({ sub, role, email: `${role}@example.com` });

/** The token with its payload rewritten and the original signature kept. */
function withPayload(token: string, change: (payload: Record<string, unknown>) => void): string {
  const [header, payload, signature] = token.split('.');
  const decoded = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  change(decoded);
  return [header, Buffer.from(JSON.stringify(decoded)).toString('base64url'), signature].join('.');
}

describe('VerifiedTokens', () => {
  const setup = (maxEntries?: number) => {
    const tokens = new TokenService(SECRET, TTL_SECONDS);
    const checks = vi.spyOn(tokens, 'verify');
    let now = T0;
    const verified = new VerifiedTokens(tokens, { now: () => now, ...(maxEntries === undefined ? {} : { maxEntries }) });
    return { tokens, checks, verified, at: (ms: number) => (now = ms) };
  };

  it('checks a token once and answers its next uses from memory', async () => {
    const { tokens, checks, verified } = setup();
    const token = await tokens.sign(claims(CUSTOMER_ID), new Date(T0));
    for (let i = 0; i < 5; i++) expect(await verified.verify(token)).toEqual({ userId: CUSTOMER_ID, role: 'customer' });
    expect(checks).toHaveBeenCalledTimes(1);
  });

  it('never answers from memory at or past the token exp', async () => {
    const { tokens, checks, verified, at } = setup();
    const token = await tokens.sign(claims(CUSTOMER_ID), new Date(T0));
    await verified.verify(token);
    at(T0 + TTL_SECONDS * 1000 - 1);
    await expect(verified.verify(token)).resolves.toMatchObject({ userId: CUSTOMER_ID });
    expect(checks).toHaveBeenCalledTimes(1);
    at(T0 + TTL_SECONDS * 1000);
    await expect(verified.verify(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'Token has expired' });
    expect(verified.size).toBe(0);
  });

  it('never accepts a tampered token, even one whose original is in memory', async () => {
    const { tokens, verified } = setup();
    const token = await tokens.sign(claims(CUSTOMER_ID), new Date(T0));
    await verified.verify(token);
    const promoted = withPayload(token, (p) => (p.role = 'admin'));
    const prolonged = withPayload(token, (p) => (p.exp = Number(p.exp) + 3600));
    // A character well inside the signature: every one of its bits counts (the last one's may not).
    const at = token.length - 10;
    const resigned = `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
    for (const bad of [promoted, prolonged, resigned]) {
      await expect(verified.verify(bad)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    }
    const forged = await new TokenService('another-secret-that-is-also-32-bytes-long!!', TTL_SECONDS).sign(claims(CUSTOMER_ID, 'admin'), new Date(T0));
    await expect(verified.verify(forged)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(verified.size).toBe(1);
  });

  it('holds at most maxEntries tokens, forgetting the oldest first', async () => {
    const { tokens, checks, verified } = setup(2);
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => tokens.sign(claims(`0190c0de-0000-7000-8000-00000000000${n}`), new Date(T0))));
    for (const token of [a, b, c, b, c]) await verified.verify(token ?? '');
    expect(checks).toHaveBeenCalledTimes(3);
    expect(verified.size).toBe(2);
    await verified.verify(a ?? '');
    expect(checks).toHaveBeenCalledTimes(4);
  });

  it('refuses a size out of range', () => {
    expect(() => new VerifiedTokens(new TokenService(SECRET), { maxEntries: 0 })).toThrow(/size/);
  });
});

describe('the gateway checks a shopper token signature once', () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.app.close();
    gw = undefined;
  });

  it('passes the same caller on every request while verifying the token only the first time', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'GET', '/categories', json(200, { items: [] }));
    const checks = vi.spyOn(gw.tokens, 'verify');
    for (let i = 0; i < 3; i++) {
      expect((await gw.app.inject({ method: 'GET', url: '/api/v1/categories', headers: bearer(gw.customerToken) })).statusCode).toBe(200);
    }
    expect(checks).toHaveBeenCalledTimes(1);
    expect(gw.transport.callsTo('catalog').map((c) => c.caller?.userId)).toEqual([CUSTOMER_ID, CUSTOMER_ID, CUSTOMER_ID]);
    const promoted = withPayload(gw.customerToken, (p) => (p.role = 'admin'));
    const res = await gw.app.inject({ method: 'PATCH', url: '/api/v1/admin/products/01900000-0000-7000-8000-0000000000aa', headers: bearer(promoted), payload: { name: 'x' } });
    expect(res.statusCode).toBe(401);
  });
});
