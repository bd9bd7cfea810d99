import { identity } from '@agora/contracts';
import { authRouteRateLimit } from '../rate-limit.js';
import { BEARER_SECURITY, IdempotencyHeaders, ok, problems, withExample } from '../schemas.js';
import { EXAMPLES } from '../examples.js';
import { TAGS } from '../openapi.js';
import { requireCaller } from '../auth.js';
import { relay } from '../upstream.js';
import type { RouteArea } from './context.js';

const USER_PAGE_EXAMPLE: identity.UserPage = {
  items: [{ ...EXAMPLES.user, createdAt: '2026-12-07T10:15:30.000Z' }],
  nextCursor: 'MDE5MGM2ZDItMWIyYS03YzNkLThlNGYtNWE2YjdjOGQ5ZTBm',
};

/** Register, login (both under the stricter per-IP limit), the caller's own profile and, for admins, the list of users and any one of them. */
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

  app.get(
    '/api/v1/admin/users',
    {
      schema: {
        tags: [TAGS.identity, TAGS.admin],
        operationId: 'listUsers',
        summary: 'Customers (and admins), newest first, optionally those whose name or e-mail contains `q`',
        security: BEARER_SECURITY,
        querystring: identity.ListUsersQuery,
        response: { 200: ok('A page of users', identity.UserPage, USER_PAGE_EXAMPLE), ...problems() },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(request.query)) if (value !== undefined) params.set(name, String(value));
      const query = params.size > 0 ? `?${params.toString()}` : '';
      return relay(reply, 'identity', await upstream.call(request, 'identity', { method: 'GET', path: `/users${query}`, idempotent: true }));
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
