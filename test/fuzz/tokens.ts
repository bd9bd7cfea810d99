import { createHmac } from 'node:crypto';
import { TokenService } from '@agora/platform';

/** The claims a real token carries, for forging look-alikes. */
export interface ForgeClaims {
  sub: string;
  role: string;
  email: string;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function claimsBody(claims: ForgeClaims, expiresInSeconds: number): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { role: claims.role, email: claims.email, sub: claims.sub, iss: 'agora-identity', aud: 'agora', iat: now, exp: now + expiresInSeconds };
}

/** `alg: none`, no signature: a gateway that trusts the header's algorithm would take it. */
export function algNoneToken(claims: ForgeClaims): string {
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claimsBody(claims, 3_600))}.`;
}

/** HS256 over the right claims with a key that is not the system's. */
export function wrongKeyToken(claims: ForgeClaims): Promise<string> {
  return new TokenService('not-the-system-secret-not-the-system-secret-0000').sign({ sub: claims.sub, role: claims.role as 'admin' | 'customer', email: claims.email });
}

/** A token signed with the system's own secret that expired a day ago. */
export function expiredToken(secret: string, claims: ForgeClaims): Promise<string> {
  return new TokenService(secret).sign({ sub: claims.sub, role: claims.role as 'admin' | 'customer', email: claims.email }, new Date(Date.now() - 2 * 24 * 3_600_000));
}

/** HS256 with the right secret over the bytes, by hand: for claims TokenService would not write (a role of `root`). */
export function signedWith(secret: string, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const unsigned = `${b64(header)}.${b64(payload)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** A valid token with its payload swapped for one claiming admin (the signature no longer matches). */
export function tamperedToken(token: string, claims: ForgeClaims): string {
  const [header = '', , signature = ''] = token.split('.');
  return `${header}.${b64(claimsBody({ ...claims, role: 'admin' }, 3_600))}.${signature}`;
}

/** Every kind of bad credential, by name, for the sweeps. */
export async function forgedTokens(secret: string, victim: ForgeClaims, customerToken: string): Promise<Record<string, string>> {
  return {
    'alg-none admin': algNoneToken({ ...victim, role: 'admin' }),
    'alg-none customer': algNoneToken(victim),
    'wrong key admin': await wrongKeyToken({ ...victim, role: 'admin' }),
    'expired admin': await expiredToken(secret, { ...victim, role: 'admin' }),
    'expired customer': await expiredToken(secret, victim),
    'tampered payload': tamperedToken(customerToken, victim),
    'HS512 header': signedWith(secret, { alg: 'HS512', typ: 'JWT' }, claimsBody({ ...victim, role: 'admin' }, 3_600)),
    'unknown role': signedWith(secret, { alg: 'HS256', typ: 'JWT' }, claimsBody({ ...victim, role: 'root' }, 3_600)),
    'no subject': signedWith(secret, { alg: 'HS256', typ: 'JWT' }, { ...claimsBody(victim, 3_600), sub: undefined }),
    'wrong audience': signedWith(secret, { alg: 'HS256', typ: 'JWT' }, { ...claimsBody({ ...victim, role: 'admin' }, 3_600), aud: 'someone-else' }),
    garbage: 'not-a-jwt',
    'three dots': 'a.b.c',
    'empty segments': '..',
  };
}
