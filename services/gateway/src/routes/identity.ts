import { identity } from '@agora/contracts';
import { authRouteRateLimit } from '../rate-limit.js';
import { BEARER_SECURITY, IdempotencyHeaders, ok, problems, withExample } from '../schemas.js';
import { EXAMPLES } from '../examples.js';
import { TAGS } from '../openapi.js';
import { requireCaller } from '../auth.js';
import { relay } from '../upstream.js';
import type { RouteArea } from './context.js';

/** Register, login (both under the stricter per-IP limit), the caller's own profile and, for admins, any user's. */
export const identityRoutes: RouteArea = (app, { upstream, config }) => {
  app.post(
    '/api/v1/auth/register',
    {
      schema: {
        tags: [TAGS.identity],
        operationId: 'register',
        summary: 'Create a customer account and get a token',
        headers: IdempotencyHeaders,
        body: withExample(identity.RegisterBody, EXAMPLES.registerBody),
        response: { 201: ok('The new user and a token', identity.AuthResult, EXAMPLES.authResult), ...problems('EMAIL_TAKEN') },
      },
      config: { access: 'public', rateLimit: authRouteRateLimit(config.rateLimits) },
    },
    async (request, reply) => {
      const response = await upstream.call(request, 'identity', { method: 'POST', path: '/auth/register', body: request.body });
      return relay(reply, 'identity', response);
    },
  );

  app.post(
    '/api/v1/auth/login',
    {
      schema: {
        tags: [TAGS.identity],
        operationId: 'login',
        summary: 'Exchange e-mail and password for a token',
        body: withExample(identity.LoginBody, EXAMPLES.loginBody),
        response: { 200: ok('The user and a token', identity.AuthResult, EXAMPLES.authResult), ...problems('INVALID_CREDENTIALS') },
      },
      config: { access: 'public', rateLimit: authRouteRateLimit(config.rateLimits) },
    },
    async (request, reply) => {
      const response = await upstream.call(request, 'identity', { method: 'POST', path: '/auth/login', body: request.body });
      return relay(reply, 'identity', response);
    },
  );

  app.get(
    '/api/v1/me',
    {
      schema: {
        tags: [TAGS.identity],
        operationId: 'me',
        summary: 'The signed-in user',
        security: BEARER_SECURITY,
        response: { 200: ok('The signed-in user', identity.User, EXAMPLES.user), ...problems('NOT_FOUND') },
      },
      config: { access: 'user' },
    },
    async (request, reply) => {
      const caller = requireCaller(request);
      const response = await upstream.call(request, 'identity', { method: 'GET', path: `/users/${encodeURIComponent(caller.userId)}`, idempotent: true });
      return relay(reply, 'identity', response);
    },
  );

  // Orders carry only a user id: the admin's order list names the customer from here.
  app.get(
    '/api/v1/admin/users/:id',
    {
      schema: {
        tags: [TAGS.identity, TAGS.admin],
        operationId: 'getUser',
        summary: 'One user by id',
        security: BEARER_SECURITY,
        params: identity.UserParams,
        response: { 200: ok('The user', identity.User, EXAMPLES.user), ...problems('NOT_FOUND') },
      },
      config: { access: 'admin' },
    },
    async (request, reply) =>
      relay(reply, 'identity', await upstream.call(request, 'identity', { method: 'GET', path: `/users/${encodeURIComponent(request.params.id)}`, idempotent: true })),
  );
};
