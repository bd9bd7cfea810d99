import { SignJWT, decodeProtectedHeader, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import { AppError, isUuid } from '@agora/kernel';
import { MIN_SECRET_BYTES } from '../auth/tokens.js';
import type { Caller } from './caller.js';

/*
 * Caller assertions: how a service knows who is calling it (docs/security.md). The gateway, and any
 * service calling another, sends a short-lived HS256 JWT signed with the cluster secret
 * (AGORA_INTERNAL_SECRET) naming the calling process (iss), the service called (aud) and, when the
 * call is made for a signed-in user, that user (sub) and role. Bare identity headers mean nothing.
 */

/** The request header carrying the assertion (in the internal namespace the gateway strips from outside requests). */
export const CALLER_ASSERTION_HEADER = 'x-agora-caller';

/** The JWT `typ` of an assertion: a user's access token (`JWT`) is never taken for one. */
export const CALLER_ASSERTION_TYPE = 'agora-caller+jwt';

export const CALLER_ASSERTION_LIMITS = {
  /** Life of an assertion, from `iat` to `exp`; a verifier refuses any longer-lived one. */
  ttlSeconds: 60,
  /** A signer hands out the same assertion for this long, so it has at least ttl - reuse left when sent. */
  reuseSeconds: 30,
  /** Clocks of the machines of one cluster may disagree by this much. */
  clockSkewSeconds: 5,
  /** Longest header value taken as an assertion (a real one is ~350 characters). */
  chars: 2_048,
  /** Signed assertions (per issuer, audience, user, role) and verified ones (per token) remembered at most. */
  cacheEntries: 10_000,
} as const;

/** Process and service names: what `iss` and `aud` may hold. */
const NAME = /^[a-z][a-z0-9-]{0,63}$/;
/** Three base64url segments: the compact form of a JWS. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** A verified assertion: which process called, for which user (none when the call is the service's own). */
export interface VerifiedCall {
  issuer: string;
  caller: Caller | undefined;
}

export interface CallerAssertionOptions {
  /** Milliseconds since the epoch; the tests move it. */
  now?: () => number;
  /** Entries each cache keeps at most; past it the oldest goes. */
  cacheEntries?: number;
}

/** The cluster secret as an HMAC key; a short one is refused. */
function keyOf(secret: string): Uint8Array {
  const key = new TextEncoder().encode(secret);
  if (key.byteLength < MIN_SECRET_BYTES) throw new Error(`the internal secret (AGORA_INTERNAL_SECRET) must be at least ${MIN_SECRET_BYTES} bytes`);
  return key;
}

function checkName(what: string, name: string): void {
  if (!NAME.test(name)) throw new Error(`a caller assertion's ${what} must be a process or service name (${NAME.source}), got "${name}"`);
}

/** A Map that keeps at most `max` entries, dropping the oldest first. */
class BoundedCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new Error(`a caller assertion cache holds a positive integer of entries, got ${max}`);
  }

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    while (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, value);
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Signs assertions with the cluster secret; one per process, shared by the gateway's and the
 * services' transports. An assertion for the same issuer, audience, user and role is signed once
 * and handed out for `reuseSeconds`, so a call costs a map lookup, not an HMAC.
 */
export class CallerAssertionSigner {
  private readonly key: Uint8Array;
  private readonly now: () => number;
  private readonly signed: BoundedCache<{ token: string; reuseUntilMs: number }>;

  constructor(secret: string, options: CallerAssertionOptions = {}) {
    this.key = keyOf(secret);
    this.now = options.now ?? Date.now;
    this.signed = new BoundedCache(options.cacheEntries ?? CALLER_ASSERTION_LIMITS.cacheEntries);
  }

  /** The assertion `issuer` sends to `audience` for `caller` (none: the issuer's own call). */
  async assertion(issuer: string, audience: string, caller?: Caller): Promise<string> {
    const key = `${issuer}\n${audience}\n${caller?.userId ?? ''}\n${caller?.role ?? ''}`;
    const now = this.now();
    const cached = this.signed.get(key);
    if (cached && now < cached.reuseUntilMs) return cached.token;
    checkName('issuer', issuer);
    checkName('audience', audience);
    const issuedAt = Math.floor(now / 1000);
    const jwt = new SignJWT(caller ? { role: caller.role } : {})
      .setProtectedHeader({ alg: 'HS256', typ: CALLER_ASSERTION_TYPE })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + CALLER_ASSERTION_LIMITS.ttlSeconds);
    if (caller) jwt.setSubject(caller.userId);
    const token = await jwt.sign(this.key);
    this.signed.set(key, { token, reuseUntilMs: (issuedAt + CALLER_ASSERTION_LIMITS.reuseSeconds) * 1000 });
    return token;
  }

  get cached(): number {
    return this.signed.size;
  }
}

function malformed(message: string): AppError {
  return new AppError('VALIDATION_FAILED', `${CALLER_ASSERTION_HEADER}: ${message}`, { errors: [{ path: `headers.${CALLER_ASSERTION_HEADER}`, message }] });
}

function refused(detail: string): AppError {
  return new AppError('UNAUTHENTICATED', `The caller assertion ${detail}`);
}

/** Why jose refused a well-formed token, in words a log reader can act on. */
function refusalOf(err: unknown): AppError {
  if (err instanceof joseErrors.JWTExpired) return refused('has expired');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return refused('is not signed with the cluster secret');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return refused('is addressed to another service');
    return refused(`has an unacceptable "${err.claim}" claim: ${err.message}`);
  }
  return refused('is not valid');
}

/** The call a verified payload describes; a user must be a UUID with a role, and no role without one. */
function callOf(payload: JWTPayload): VerifiedCall {
  const { iss, sub, iat, exp } = payload;
  const role: unknown = payload.role;
  if (typeof iss !== 'string' || !NAME.test(iss)) throw refused('names no calling process');
  if (typeof iat !== 'number' || typeof exp !== 'number' || exp - iat > CALLER_ASSERTION_LIMITS.ttlSeconds) {
    throw refused(`lives longer than ${CALLER_ASSERTION_LIMITS.ttlSeconds} s`);
  }
  if (sub === undefined) {
    if (role !== undefined) throw refused('gives a role to no user');
    return { issuer: iss, caller: undefined };
  }
  if (!isUuid(sub)) throw refused('names a caller that is not a user: its id is not a UUID');
  if (role !== 'customer' && role !== 'admin') throw refused('gives the user no known role');
  return { issuer: iss, caller: { userId: sub, role } };
}

/**
 * Verifies the assertions sent to one service (`audience`). A token verified once is remembered
 * until its `exp`, found again only by the exact same string; refusals are not remembered.
 * Throws VALIDATION_FAILED (400) for a value that is not a token, UNAUTHENTICATED (401) for a
 * token that is forged, expired, addressed to another service or otherwise unacceptable.
 */
export class CallerAssertionVerifier {
  private readonly key: Uint8Array;
  private readonly now: () => number;
  private readonly verified: BoundedCache<{ call: VerifiedCall; expiresAtMs: number }>;

  constructor(
    secret: string,
    readonly audience: string,
    options: CallerAssertionOptions = {},
  ) {
    this.key = keyOf(secret);
    checkName('audience', audience);
    this.now = options.now ?? Date.now;
    this.verified = new BoundedCache(options.cacheEntries ?? CALLER_ASSERTION_LIMITS.cacheEntries);
  }

  async verify(token: string): Promise<VerifiedCall> {
    const now = this.now();
    const cached = this.verified.get(token);
    if (cached && now < cached.expiresAtMs) return cached.call;
    if (cached) this.verified.delete(token);
    if (token.length > CALLER_ASSERTION_LIMITS.chars) throw malformed(`is longer than ${CALLER_ASSERTION_LIMITS.chars} characters`);
    if (!COMPACT_JWS.test(token)) throw malformed('is not a compact JWS (three base64url segments)');
    try {
      decodeProtectedHeader(token);
    } catch {
      throw malformed('has no readable JWS header');
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        typ: CALLER_ASSERTION_TYPE,
        audience: this.audience,
        requiredClaims: ['iss', 'iat', 'exp'],
        maxTokenAge: CALLER_ASSERTION_LIMITS.ttlSeconds + CALLER_ASSERTION_LIMITS.clockSkewSeconds,
        clockTolerance: CALLER_ASSERTION_LIMITS.clockSkewSeconds,
        currentDate: new Date(now),
      }));
    } catch (err) {
      throw refusalOf(err);
    }
    const call = callOf(payload);
    // Remembered strictly before `exp`, without the skew allowance: a cached answer is never more lenient.
    const expiresAtMs = (payload.exp ?? 0) * 1000;
    if (expiresAtMs > now) this.verified.set(token, { call, expiresAtMs });
    return call;
  }

  get cached(): number {
    return this.verified.size;
  }
}
