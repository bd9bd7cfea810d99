import type { FastifyRequest } from 'fastify';
import { AppError } from '@agora/kernel';
import type { HttpApp } from './app.js';
import { CALLER_ASSERTION_HEADER, type CallerAssertionVerifier, type VerifiedCall } from './caller-assertion.js';

/**
 * Who is calling a service. A service takes it from one thing only: the caller assertion of the
 * request, verified by `guardServiceRoutes` (docs/security.md). No header naming a user or a role
 * is read; a request that reached a guarded route without a valid assertion was already refused.
 */

export type Role = 'customer' | 'admin';

export interface Caller {
  userId: string;
  role: Role;
}

const verifiedCalls = new WeakMap<FastifyRequest, VerifiedCall>();

/** Routes anyone who can reach the port may call: health, readiness and metrics. */
function isOperational(request: FastifyRequest): boolean {
  const config: unknown = request.routeOptions.config;
  return typeof config === 'object' && config !== null && 'operational' in config && config.operational === true;
}

/**
 * Makes `app` (a service's routes) answer only callers holding an assertion addressed to it:
 * every route except the operational ones verifies the request's assertion before anything else.
 * None → 401; a value that is not a token → 400 naming the header; forged, expired, for another
 * service → 401. The composition root calls this on every service app it serves.
 */
export function guardServiceRoutes(app: HttpApp, verifier: CallerAssertionVerifier): void {
  app.addHook('onRequest', async (request) => {
    if (isOperational(request)) return;
    const assertion = request.headers[CALLER_ASSERTION_HEADER];
    if (assertion === undefined) throw new AppError('UNAUTHENTICATED', `A caller assertion (${CALLER_ASSERTION_HEADER}) is required`);
    if (typeof assertion !== 'string') {
      const message = 'must be sent once';
      throw new AppError('VALIDATION_FAILED', `${CALLER_ASSERTION_HEADER}: ${message}`, { errors: [{ path: `headers.${CALLER_ASSERTION_HEADER}`, message }] });
    }
    verifiedCalls.set(request, await verifier.verify(assertion));
  });
}

/** The verified call, undefined when the request carried no verified assertion (an unguarded app). */
export function verifiedCallOf(request: FastifyRequest): VerifiedCall | undefined {
  return verifiedCalls.get(request);
}

/** The user the verified assertion names, undefined when it names none (or there is none). */
export function callerOf(request: FastifyRequest): Caller | undefined {
  return verifiedCalls.get(request)?.caller;
}

export function requireCaller(request: FastifyRequest): Caller {
  const caller = callerOf(request);
  if (!caller) throw new AppError('UNAUTHENTICATED', 'A bearer token is required');
  return caller;
}

export function requireAdmin(request: FastifyRequest): Caller {
  const caller = requireCaller(request);
  if (caller.role !== 'admin') throw new AppError('FORBIDDEN', 'This operation needs the admin role');
  return caller;
}
