import type { FastifyRequest } from 'fastify';
import { cart } from '@agora/contracts';
import { AppError, isUuid } from '@agora/kernel';
import { requireCaller, type CallContext, type HttpApp } from '@agora/platform';
import type { CartService } from '../app/cart-service.js';

/** The cart belongs to the caller the gateway established; its id keys the cart (and its shard). */
function cartOwner(request: FastifyRequest): string {
  const { userId } = requireCaller(request);
  if (!isUuid(userId)) throw new AppError('UNAUTHENTICATED', 'The caller is not a user');
  return userId;
}

/** Auth runs before validation, so an anonymous caller learns nothing from a 400. */
const callerOnly = async (request: FastifyRequest): Promise<void> => {
  cartOwner(request);
};

const context = (request: FastifyRequest): CallContext => ({ requestId: request.id });

/**
 * The cart's internal routes. The gateway forwards `/api/v1/cart*` here and sets the caller
 * headers; the order service calls `GET /cart/lines` and `POST /cart/checked-out` with the
 * buyer's caller headers.
 */
export function registerCartRoutes(app: HttpApp, carts: CartService): void {
  app.get('/cart', { onRequest: callerOnly, schema: { response: { 200: cart.Cart } } }, async (request) =>
    carts.view(cartOwner(request), context(request)),
  );

  app.get('/cart/lines', { onRequest: callerOnly, schema: { response: { 200: cart.CartLines } } }, async (request) => carts.lines(cartOwner(request)));

  app.post('/cart/items', { onRequest: callerOnly, schema: { body: cart.AddItemBody, response: { 200: cart.Cart } } }, async (request) =>
    carts.add(cartOwner(request), request.body, context(request)),
  );

  app.patch(
    '/cart/items/:sku',
    { onRequest: callerOnly, schema: { params: cart.ItemParams, body: cart.UpdateItemBody, response: { 200: cart.Cart } } },
    async (request) => carts.setQuantity(cartOwner(request), request.params.sku, request.body.quantity, context(request)),
  );

  app.delete('/cart/items/:sku', { onRequest: callerOnly, schema: { params: cart.ItemParams, response: { 200: cart.Cart } } }, async (request) =>
    carts.remove(cartOwner(request), request.params.sku, context(request)),
  );

  app.post(
    '/cart/checked-out',
    { onRequest: callerOnly, schema: { body: cart.CheckedOutBody, response: { 200: cart.CheckedOutResult } } },
    async (request) => carts.checkedOut(cartOwner(request), request.body),
  );
}
