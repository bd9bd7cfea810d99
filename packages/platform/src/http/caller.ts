import type { FastifyRequest } from 'fastify';
import { AppError, isUuid } from '@agora/kernel';

/**
 * Who is calling, as the gateway established it from the bearer token. The gateway strips these
 * headers from outside requests and sets them after verifying the token; services trust them
 * because only the gateway and other services reach them.
 */
export const CALLER_ID_HEADER = 'x-agora-user-id';
export const CALLER_ROLE_HEADER = 'x-agora-user-role';

export type Role = 'customer' | 'admin';

export interface Caller {
  userId: string;
  role: Role;
}

/** The caller, undefined when none is named; a caller id that is not a user id (a UUID) is no user: 401, never a store's 500. */
export function callerOf(request: FastifyRequest): Caller | undefined {
  const userId = request.headers[CALLER_ID_HEADER];
  const role = request.headers[CALLER_ROLE_HEADER];
  if (userId === undefined || userId === '') return undefined;
  if (typeof userId !== 'string' || !isUuid(userId)) throw new AppError('UNAUTHENTICATED', 'The caller is not a user: its id is not a UUID');
  return { userId, role: role === 'admin' ? 'admin' : 'customer' };
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

export function callerHeaders(caller: Caller | undefined): Record<string, string> {
  return caller ? { [CALLER_ID_HEADER]: caller.userId, [CALLER_ROLE_HEADER]: caller.role } : {};
}
