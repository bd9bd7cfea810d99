import { identity } from '@agora/contracts';
import { requireAdmin, requireCaller, type HttpApp } from '@agora/platform';
import type { Accounts } from '../app/accounts.js';

/**
 * Identity's internal routes. The gateway forwards `/api/v1/auth/*` and `/api/v1/me` here and
 * sets the caller headers after verifying the bearer token. Auth checks run in `onRequest`, before
 * validation, so an anonymous caller learns nothing from a 400.
 */
export function registerIdentityRoutes(app: HttpApp, accounts: Accounts): void {
  app.post(
    '/auth/register',
    { schema: { body: identity.RegisterBody, response: { 201: identity.AuthResult } } },
    async (request, reply) => reply.code(201).send(await accounts.register(request.body)),
  );

  app.post('/auth/login', { schema: { body: identity.LoginBody, response: { 200: identity.AuthResult } } }, async (request) =>
    accounts.login(request.body),
  );

  app.get(
    '/me',
    {
      schema: { response: { 200: identity.User } },
      onRequest: async (request) => void requireCaller(request),
    },
    async (request) => {
      const caller = requireCaller(request);
      return accounts.userFor(caller, caller.userId);
    },
  );

  app.get(
    '/users/:id',
    {
      schema: { params: identity.UserParams, response: { 200: identity.User } },
      onRequest: async (request) => void requireCaller(request),
    },
    async (request) => accounts.userFor(requireCaller(request), request.params.id),
  );

  app.get(
    '/users',
    {
      schema: { querystring: identity.ListUsersQuery, response: { 200: identity.UserPage } },
      onRequest: async (request) => void requireAdmin(request),
    },
    async (request) => accounts.list({ limit: request.query.limit, cursor: request.query.cursor, q: request.query.q }),
  );
}
