import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { AppError, LIMITS } from '@agora/kernel';
import type { TokenClaims } from '@agora/contracts';

const ISSUER = 'agora-identity';
const AUDIENCE = 'agora';
export const MIN_SECRET_BYTES = 32;

/** HS256 access tokens: identity signs them, the gateway verifies them without a call. */
export class TokenService {
  private readonly key: Uint8Array;

  constructor(secret: string, private readonly ttlSeconds: number = LIMITS.tokenTtlSeconds) {
    this.key = new TextEncoder().encode(secret);
    if (this.key.byteLength < MIN_SECRET_BYTES) throw new Error(`token secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }

  sign(claims: TokenClaims, now: Date = new Date()): Promise<string> {
    const issuedAt = Math.floor(now.getTime() / 1000);
    return new SignJWT({ role: claims.role, email: claims.email })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.sub)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + this.ttlSeconds)
      .sign(this.key);
  }

  async verify(token: string, now: Date = new Date()): Promise<TokenClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
        currentDate: now,
      });
      const role = payload.role === 'admin' ? 'admin' : payload.role === 'customer' ? 'customer' : undefined;
      if (typeof payload.sub !== 'string' || role === undefined || typeof payload.email !== 'string') {
        throw new AppError('UNAUTHENTICATED', 'Token is missing required claims');
      }
      return { sub: payload.sub, role, email: payload.email };
    } catch (err) {
      if (err instanceof AppError) throw err;
      const detail = err instanceof joseErrors.JWTExpired ? 'Token has expired' : 'Token is invalid';
      throw new AppError('UNAUTHENTICATED', detail);
    }
  }
}
