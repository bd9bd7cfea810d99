import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { AppError, newId } from '@agora/kernel';
import { CALLER_ASSERTION_LIMITS, CALLER_ASSERTION_TYPE, CallerAssertionSigner, CallerAssertionVerifier, TokenService, type Caller } from '../src/index.js';

const SECRET = 'caller-assertion-test-secret-0123456789-abcdef';
const OTHER_SECRET = 'some-other-cluster-secret-0123456789-abcdefgh';
const T0 = Date.parse('2026-05-01T12:00:00Z');
const admin: Caller = { userId: newId(), role: 'admin' };

/** A clock the test moves. */
function clock(start = T0): { now: () => number; advance(ms: number): void } {
  let at = start;
  return { now: () => at, advance: (ms) => void (at += ms) };
}

async function refusal(call: Promise<unknown>): Promise<AppError> {
  const error = await call.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

/** A token signed with `secret` and whatever claims a test needs, bypassing the signer's rules. */
function rawToken(claims: Record<string, unknown>, options: { secret?: string; typ?: string; iat?: number; exp?: number; aud?: string } = {}): Promise<string> {
  const iat = options.iat ?? Math.floor(T0 / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: options.typ ?? CALLER_ASSERTION_TYPE })
    .setIssuer('gateway')
    .setAudience(options.aud ?? 'inventory')
    .setIssuedAt(iat)
    .setExpirationTime(options.exp ?? iat + CALLER_ASSERTION_LIMITS.ttlSeconds)
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

describe('caller assertions', () => {
  it('name the calling process and the user, or no user for a service’s own call', async () => {
    const time = clock();
    const signer = new CallerAssertionSigner(SECRET, time);
    const verifier = new CallerAssertionVerifier(SECRET, 'inventory', time);
    expect(await verifier.verify(await signer.assertion('gateway', 'inventory', admin))).toEqual({ issuer: 'gateway', caller: admin });
    expect(await verifier.verify(await signer.assertion('order', 'inventory'))).toEqual({ issuer: 'order', caller: undefined });
  });

  it('are signed once per issuer, audience, user and role, and re-signed after the reuse window', async () => {
    const time = clock();
    const signer = new CallerAssertionSigner(SECRET, time);
    const first = await signer.assertion('gateway', 'inventory', admin);
    expect(await signer.assertion('gateway', 'inventory', admin)).toBe(first);
    expect(await signer.assertion('gateway', 'inventory', { ...admin, role: 'customer' })).not.toBe(first);
    expect(await signer.assertion('gateway', 'catalog', admin)).not.toBe(first);
    expect(await signer.assertion('order', 'inventory', admin)).not.toBe(first);
    expect(signer.cached).toBe(4);
    time.advance(CALLER_ASSERTION_LIMITS.reuseSeconds * 1000);
    const renewed = await signer.assertion('gateway', 'inventory', admin);
    expect(renewed).not.toBe(first);
    // A reused assertion still has at least ttl - reuse to live when it is sent.
    const verifier = new CallerAssertionVerifier(SECRET, 'inventory', time);
    time.advance((CALLER_ASSERTION_LIMITS.reuseSeconds - 1) * 1000);
    expect((await verifier.verify(await signer.assertion('gateway', 'inventory', admin))).caller).toEqual(admin);
  });

  it('keeps each cache within its bound', async () => {
    const signer = new CallerAssertionSigner(SECRET, { cacheEntries: 3 });
    const verifier = new CallerAssertionVerifier(SECRET, 'cart', { cacheEntries: 3 });
    for (let i = 0; i < 5; i++) await verifier.verify(await signer.assertion('gateway', 'cart', { userId: newId(), role: 'customer' }));
    expect(signer.cached).toBe(3);
    expect(verifier.cached).toBe(3);
  });

  it('refuse an expired assertion, also one verified (and cached) while it was valid', async () => {
    const time = clock();
    const token = await new CallerAssertionSigner(SECRET, time).assertion('gateway', 'inventory', admin);
    const verifier = new CallerAssertionVerifier(SECRET, 'inventory', time);
    await verifier.verify(token);
    time.advance((CALLER_ASSERTION_LIMITS.ttlSeconds + CALLER_ASSERTION_LIMITS.clockSkewSeconds) * 1000 + 1);
    const error = await refusal(verifier.verify(token));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.message).toMatch(/expired/);
  });

  it('refuse an assertion signed with another key, even one altered after a valid one was cached', async () => {
    const verifier = new CallerAssertionVerifier(SECRET, 'inventory');
    const forged = await new CallerAssertionSigner(OTHER_SECRET).assertion('gateway', 'inventory', admin);
    expect((await refusal(verifier.verify(forged))).code).toBe('UNAUTHENTICATED');
    const valid = await new CallerAssertionSigner(SECRET).assertion('gateway', 'inventory', { userId: newId(), role: 'customer' });
    await verifier.verify(valid);
    const [header, , signature] = valid.split('.');
    const promoted = `${header}.${Buffer.from(JSON.stringify({ role: 'admin', sub: admin.userId })).toString('base64url')}.${signature}`;
    const error = await refusal(verifier.verify(promoted));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.message).toMatch(/not signed with the cluster secret/);
  });

  it('refuse an assertion addressed to another service', async () => {
    const token = await new CallerAssertionSigner(SECRET).assertion('gateway', 'catalog', admin);
    const error = await refusal(new CallerAssertionVerifier(SECRET, 'inventory').verify(token));
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.message).toMatch(/another service/);
  });

  it('refuse a user’s access token, even one signed with the same secret', async () => {
    const access = await new TokenService(SECRET).sign({ sub: admin.userId, role: 'admin', email: 'a@example.com' });
    expect((await refusal(new CallerAssertionVerifier(SECRET, 'inventory').verify(access))).code).toBe('UNAUTHENTICATED');
  });

  it('refuse what the signer would never issue: a long life, a role without a user, a user that is no UUID', async () => {
    const verifier = new CallerAssertionVerifier(SECRET, 'inventory', clock());
    const iat = Math.floor(T0 / 1000);
    const cases = [
      rawToken({ sub: admin.userId, role: 'admin' }, { exp: iat + 3_600 }),
      rawToken({ role: 'admin' }),
      rawToken({ sub: 'not-a-user', role: 'admin' }),
      rawToken({ sub: admin.userId, role: 'root' }),
    ];
    for (const token of await Promise.all(cases)) expect((await refusal(verifier.verify(token))).code, token).toBe('UNAUTHENTICATED');
    expect((await verifier.verify(await rawToken({ sub: admin.userId, role: 'admin' }))).caller).toEqual(admin);
  });

  it('take a value that is not a token for a malformed request (400 naming the header)', async () => {
    const verifier = new CallerAssertionVerifier(SECRET, 'inventory');
    for (const bad of ['', 'admin', 'a.b', 'a.b.c.d', 'not a token.at.all', '%%%.e30.sig', 'x'.repeat(CALLER_ASSERTION_LIMITS.chars + 1)]) {
      const error = await refusal(verifier.verify(bad));
      expect(error.code, bad).toBe('VALIDATION_FAILED');
      expect(error.errors?.[0]?.path, bad).toBe('headers.x-agora-caller');
    }
  });

  it('refuse a short secret and names that are not process names', async () => {
    expect(() => new CallerAssertionSigner('short')).toThrow(/at least 32 bytes/);
    expect(() => new CallerAssertionVerifier(SECRET, 'Inventory Service')).toThrow(/audience/);
    await expect(new CallerAssertionSigner(SECRET).assertion('gate way', 'inventory')).rejects.toThrow(/issuer/);
  });
});
