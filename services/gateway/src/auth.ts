import type { FastifyRequest, RouteOptions } from 'fastify';
import { decodeJwt } from 'jose';
import { AppError } from '@agora/kernel';
import type { Caller, HttpApp, TokenService } from '@agora/platform';

/** Who may call a route: anyone, any signed-in user, or admins only. */
export type Access = 'public' | 'user' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Checked by the gateway before the body is read; absent means public. */
    access?: Access;
  }
}

export const ADMIN_PREFIX = '/api/v1/admin';

/**
 * Headers only the gateway and the services may set. Anything in this namespace coming from
 * outside is dropped, so a client can neither claim a role (`x-agora-user-role: admin`) nor pass
 * on a caller assertion (`x-agora-caller`) it got hold of (docs/security.md).
 */
const INTERNAL_HEADER_PREFIX = 'x-agora-';

type AuthState =
  | { kind: 'anonymous' }
  | { kind: 'caller'; caller: Caller }
  | { kind: 'rejected'; error: AppError };

const ANONYMOUS: AuthState = { kind: 'anonymous' };

const authStates = new WeakMap<FastifyRequest, AuthState>();

/**
 * Verified tokens remembered at most; past it the oldest goes. Sized for the signed-in shoppers of
 * one gateway within a token's lifetime; at ~400 bytes an entry (the token is the key) about 4 MB.
 */
export const VERIFIED_TOKENS_MAX = 10_000;

export interface VerifiedTokensOptions {
  /** Milliseconds since the epoch; the tests move it. */
  now?: () => number;
  maxEntries?: number;
}

/**
 * The callers proven by bearer tokens, remembered per token string until the token's own `exp`
 * (never past it), so a shopper's second and later requests skip the HMAC check. A cached entry
 * can only be found by the exact string that was verified: a token altered in any byte misses and
 * is verified (and refused) from scratch. Refusals are not remembered.
 */
export class VerifiedTokens {
  private readonly callers = new Map<string, { caller: Caller; expiresAtMs: number }>();
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(
    private readonly tokens: TokenService,
    options: VerifiedTokensOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.maxEntries = options.maxEntries ?? VERIFIED_TOKENS_MAX;
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries < 1) throw new Error(`verified tokens cache size must be a positive integer, got ${this.maxEntries}`);
  }

  /** The caller `token` proves; throws UNAUTHENTICATED like `TokenService.verify`. */
  async verify(token: string): Promise<Caller> {
    const now = this.now();
    const cached = this.callers.get(token);
    if (cached && now < cached.expiresAtMs) return cached.caller;
    if (cached) this.callers.delete(token);
    const claims = await this.tokens.verify(token, new Date(now));
    const caller: Caller = { userId: claims.sub, role: claims.role };
    // The signature checked out, so the payload's `exp` is the issuer's. jose refuses a token
    // whose `exp` (seconds) is at or before now: it is valid strictly before exp * 1000 ms.
    const { exp } = decodeJwt(token);
    if (typeof exp === 'number' && Number.isFinite(exp) && exp * 1000 > now) this.remember(token, caller, exp * 1000);
    return caller;
  }

  get size(): number {
    return this.callers.size;
  }

  private remember(token: string, caller: Caller, expiresAtMs: number): void {
    this.callers.delete(token);
    while (this.callers.size >= this.maxEntries) {
      const oldest = this.callers.keys().next();
      if (oldest.done === true) break;
      this.callers.delete(oldest.value);
    }
    this.callers.set(token, { caller, expiresAtMs });
    if (this.callers.size > this.maxEntries) throw new Error(`verified tokens cache holds ${this.callers.size}, past ${this.maxEntries}`);
  }
}

async function authenticate(authorization: string | undefined, tokens: VerifiedTokens): Promise<AuthState> {
  if (authorization === undefined || authorization.trim() === '') return ANONYMOUS;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization.trim());
  if (!match?.[1]) return { kind: 'rejected', error: new AppError('UNAUTHENTICATED', 'Authorization must be "Bearer <token>"') };
  try {
    return { kind: 'caller', caller: await tokens.verify(match[1]) };
  } catch (err) {
    if (err instanceof AppError) return { kind: 'rejected', error: err };
    throw err;
  }
}

/** The caller proven by a valid bearer token, if the request carried one. */
export function callerOf(request: FastifyRequest): Caller | undefined {
  const state = authStates.get(request);
  return state?.kind === 'caller' ? state.caller : undefined;
}

/** The caller of a route declared `access: 'user'` or `'admin'` (the guard has already run). */
export function requireCaller(request: FastifyRequest): Caller {
  const caller = callerOf(request);
  if (!caller) throw new AppError('UNAUTHENTICATED', 'A bearer token is required');
  return caller;
}

function enforceAccess(request: FastifyRequest): void {
  const access = request.routeOptions.config.access ?? 'public';
  if (access === 'public') return;
  const state = authStates.get(request) ?? ANONYMOUS;
  if (state.kind === 'rejected') throw state.error;
  if (state.kind === 'anonymous') throw new AppError('UNAUTHENTICATED', 'A bearer token is required');
  if (access === 'admin' && state.caller.role !== 'admin') throw new AppError('FORBIDDEN', 'This operation needs the admin role');
}

function routeAccess(route: RouteOptions): Access | undefined {
  const config: unknown = route.config;
  if (typeof config !== 'object' || config === null || !('access' in config)) return undefined;
  return (config as { access?: Access }).access;
}

/**
 * Strips internal headers from every outside request and verifies its bearer token locally
 * (no call to identity; a token already verified is found in `VerifiedTokens`). The result is kept per request: the rate limiter keys on the user it
 * proves, and routes declaring `config.access` are guarded in `preParsing` — after the rate
 * limit (route-level `onRequest`) and before a body is read.
 *
 * A bad token on a public route is ignored (the caller is anonymous there), so a stale token in
 * a browser does not break browsing; on a guarded route it is a 401 saying what was wrong.
 */
export function installAuth(app: HttpApp, tokens: TokenService, verified: VerifiedTokensOptions = {}): void {
  const verifiedTokens = new VerifiedTokens(tokens, verified);
  app.addHook('onRoute', (route) => {
    const path = route.path;
    if ((path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`)) && routeAccess(route) !== 'admin') {
      throw new Error(`gateway route ${route.method} ${path} is under ${ADMIN_PREFIX} and must declare config.access = 'admin'`);
    }
  });

  app.addHook('onRequest', async (request) => {
    for (const name of Object.keys(request.headers)) {
      if (name.startsWith(INTERNAL_HEADER_PREFIX)) delete request.headers[name];
    }
    authStates.set(request, await authenticate(request.headers.authorization, verifiedTokens));
  });

  app.addHook('preParsing', async (request) => {
    enforceAccess(request);
  });
}
