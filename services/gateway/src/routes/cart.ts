import { cart } from '@agora/contracts';
import { BEARER_SECURITY, ok, problems, withExample } from '../schemas.js';
import { EXAMPLES } from '../examples.js';
import { TAGS } from '../openapi.js';
import { requireCaller } from '../auth.js';
import { relay } from '../upstream.js';
import type { RouteArea } from './context.js';

const CART_OK = { 200: ok('The cart, priced from the catalog', cart.Cart, EXAMPLES.cart) };

/** The caller's own cart: the cart service keys it by the user the token proves. */
export const cartRoutes: RouteArea = (app, { upstream, cart: inProcess }) => {
  app.get(
    '/api/v1/cart',
    { schema: { tags: [TAGS.cart], operationId: 'getCart', summary: "The caller's cart", security: BEARER_SECURITY, response: { ...CART_OK, ...problems() } }, config: { access: 'user' } },
    async (request, reply) => relay(reply, 'cart', await upstream.call(request, 'cart', { method: 'GET', path: '/cart', idempotent: true })),
  );

  app.post(
    '/api/v1/cart/items',
    {
      schema: {
        tags: [TAGS.cart],
        operationId: 'addCartItem',
        summary: 'Add a SKU (merges with an existing line; quantity 1..99; at most 100 lines)',
        security: BEARER_SECURITY,
        body: withExample(cart.AddItemBody, EXAMPLES.addItem),
        response: { ...CART_OK, ...problems('NOT_FOUND', 'CONFLICT') },
      },
      config: { access: 'user' },
    },
    async (request, reply) => {
      if (inProcess) return inProcess.add(requireCaller(request).userId, request.body, { requestId: request.id });
      return relay(reply, 'cart', await upstream.call(request, 'cart', { method: 'POST', path: '/cart/items', body: request.body }));
    },
  );

  app.patch(
    '/api/v1/cart/items/:sku',
    {
      schema: {
        tags: [TAGS.cart],
        operationId: 'updateCartItem',
        summary: 'Set the quantity of a line (0 removes it)',
        security: BEARER_SECURITY,
        params: cart.ItemParams,
        body: withExample(cart.UpdateItemBody, EXAMPLES.updateItem),
        response: { ...CART_OK, ...problems('NOT_FOUND', 'CONFLICT') },
      },
      config: { access: 'user' },
    },
    async (request, reply) =>
      relay(reply, 'cart', await upstream.call(request, 'cart', { method: 'PATCH', path: `/cart/items/${encodeURIComponent(request.params.sku)}`, body: request.body })),
  );

  app.delete(
    '/api/v1/cart/items/:sku',
    {
      schema: { tags: [TAGS.cart], operationId: 'removeCartItem', summary: 'Remove a line', security: BEARER_SECURITY, params: cart.ItemParams, response: { ...CART_OK, ...problems('NOT_FOUND', 'CONFLICT') } },
      config: { access: 'user' },
    },
    async (request, reply) =>
      relay(reply, 'cart', await upstream.call(request, 'cart', { method: 'DELETE', path: `/cart/items/${encodeURIComponent(request.params.sku)}` })),
  );
};
