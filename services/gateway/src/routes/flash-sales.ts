import { Type } from 'typebox';
import { AppError } from '@agora/kernel';
import { IdParams, flashSale, order } from '@agora/contracts';
import { BEARER_SECURITY, ok, problems, withExample } from '../schemas.js';
import { TAGS } from '../openapi.js';
import { flashSalePurchaseRateLimit } from '../rate-limit.js';
import { relay } from '../upstream.js';
import { requireCaller } from '../auth.js';
import type { RouteArea } from './context.js';

/** `Idempotency-Key` is required on a purchase: a retried purchase must get the same ticket, never a second one. */
const PurchaseHeaders = Type.Object({ 'idempotency-key': order.IdempotencyKeyHeader });

const SALE_ID = '0190c6d4-0a1b-7c2d-8e3f-4a5b6c7d8e90';
const TICKET_ID = '0190c6d4-1a1b-7c2d-8e3f-4a5b6c7d8e91';
const SALE: flashSale.FlashSale = {
  id: SALE_ID,
  sku: 'TEE-BLK-M',
  price: { amount: 1500, currency: 'USD' },
  quantity: 1000,
  remaining: 412,
  startsAt: '2026-12-07T12:00:00.000Z',
  endsAt: '2026-12-07T12:30:00.000Z',
  perUserLimit: 2,
  status: 'ACTIVE',
};

/** A fixed window of one second, counted in this process: the purchase route's global limit. */
export class PerSecondLimit {
  private window = 0;
  private used = 0;

  constructor(private readonly max: number) {}

  take(): boolean {
    const now = Math.floor(Date.now() / 1000);
    if (now !== this.window) {
      this.window = now;
      this.used = 0;
    }
    this.used += 1;
    return this.used <= this.max;
  }
}

/** Flash sales (docs/flash-sales.md): served by the inventory service, which owns a sale's units. */
export const flashSaleRoutes: RouteArea = (app, { upstream, config, inventory: inProcess }) => {
  const global = new PerSecondLimit(config.rateLimits.flashSalePurchasesPerSecond);

  app.post(
    '/api/v1/admin/flash-sales',
    {
      schema: {
        tags: [TAGS.inventory, TAGS.admin],
        operationId: 'createFlashSale',
        summary: "Create a flash sale: its units are set aside from the SKU's stock",
        description: '409 OUT_OF_STOCK when the SKU has fewer units available than the sale sets aside; 404 when no stock is kept for it.',
        security: BEARER_SECURITY,
        body: withExample(flashSale.CreateFlashSaleBody, { sku: SALE.sku, quantity: SALE.quantity, price: SALE.price, startsAt: SALE.startsAt, endsAt: SALE.endsAt, perUserLimit: SALE.perUserLimit }),
        response: { 201: ok('The sale', flashSale.FlashSale, SALE), ...problems('NOT_FOUND', 'OUT_OF_STOCK') },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => relay(reply, 'inventory', await upstream.call(request, 'inventory', { method: 'POST', path: '/admin/flash-sales', body: request.body })),
  );

  app.get(
    '/api/v1/admin/flash-sales',
    {
      schema: {
        tags: [TAGS.inventory, TAGS.admin],
        operationId: 'listFlashSales',
        summary: 'The newest flash sales with where their units are (accepted, ordered, paid, expired) and the counter’s drift',
        security: BEARER_SECURITY,
        response: { 200: ok('Sales, newest first', flashSale.FlashSaleStatsList, { items: [{ ...SALE, accepted: 590, ordered: 588, paid: 570, expired: 2, drift: 0 }] }), ...problems() },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => relay(reply, 'inventory', await upstream.call(request, 'inventory', { method: 'GET', path: '/admin/flash-sales', idempotent: true })),
  );

  app.get(
    '/api/v1/admin/flash-sales/:id',
    {
      schema: {
        tags: [TAGS.inventory, TAGS.admin],
        operationId: 'getFlashSaleStats',
        summary: 'One flash sale with where its units are and the counter’s drift',
        security: BEARER_SECURITY,
        params: IdParams,
        response: { 200: ok('The sale', flashSale.FlashSaleStats, { ...SALE, accepted: 590, ordered: 588, paid: 570, expired: 2, drift: 0 }), ...problems('NOT_FOUND') },
      },
      config: { access: 'admin' },
    },
    async (request, reply) =>
      relay(reply, 'inventory', await upstream.call(request, 'inventory', { method: 'GET', path: `/admin/flash-sales/${request.params.id}`, idempotent: true })),
  );

  app.get(
    '/api/v1/flash-sales/:id',
    {
      schema: {
        tags: [TAGS.inventory],
        operationId: 'getFlashSale',
        summary: 'A flash sale with the units left (served from memory for a fraction of a second)',
        params: IdParams,
        response: { 200: ok('The sale', flashSale.FlashSale, SALE), ...problems('NOT_FOUND') },
      },
    },
    async (request, reply) => relay(reply, 'inventory', await upstream.call(request, 'inventory', { method: 'GET', path: `/flash-sales/${request.params.id}`, idempotent: true })),
  );

  app.post(
    '/api/v1/flash-sales/:id/purchase',
    {
      schema: {
        tags: [TAGS.inventory],
        operationId: 'purchaseFlashSale',
        summary: 'Buy in a flash sale: 202 with a ticket at once; the ticket becomes an order to pay',
        description: '409 SOLD_OUT, 429 LIMIT_EXCEEDED (over the per-user limit), 409 SALE_NOT_ACTIVE, 422 IDEMPOTENCY_MISMATCH (the key was used with another quantity).',
        security: BEARER_SECURITY,
        params: IdParams,
        headers: PurchaseHeaders,
        body: withExample(flashSale.PurchaseBody, { quantity: 1 }),
        response: { 202: ok('The ticket', flashSale.Ticket, { ticketId: TICKET_ID, status: 'ACCEPTED' }), ...problems('NOT_FOUND', 'SOLD_OUT', 'SALE_NOT_ACTIVE', 'LIMIT_EXCEEDED', 'IDEMPOTENCY_MISMATCH') },
      },
      config: { access: 'user', ...(config.rateLimits.enabled ? { rateLimit: flashSalePurchaseRateLimit(config.rateLimits) } : {}) },
    },
    async (request, reply) => {
      if (config.rateLimits.enabled && !global.take()) throw new AppError('RATE_LIMITED', 'Too many flash-sale purchases right now; retry in a second', { retryAfterSeconds: 1 });
      if (inProcess) {
        // In one process: the sale's own object answers (its sold-out flag first), no transport.
        const ticket = await inProcess.purchase(requireCaller(request), request.params.id, request.headers['idempotency-key'], request.body.quantity);
        return reply.code(202).send(ticket);
      }
      return relay(reply, 'inventory', await upstream.call(request, 'inventory', { method: 'POST', path: `/flash-sales/${request.params.id}/purchase`, body: request.body }));
    },
  );

  app.get(
    '/api/v1/flash-sales/:id/tickets/:ticketId',
    {
      schema: {
        tags: [TAGS.inventory],
        operationId: 'getFlashSaleTicket',
        summary: "A ticket of the caller's: ACCEPTED, ORDERED (with the order to pay) or EXPIRED",
        security: BEARER_SECURITY,
        params: flashSale.TicketParams,
        response: { 200: ok('The ticket', flashSale.Ticket, { ticketId: TICKET_ID, status: 'ORDERED', orderId: TICKET_ID }), ...problems('NOT_FOUND') },
      },
      config: { access: 'user' },
    },
    async (request, reply) =>
      relay(
        reply,
        'inventory',
        await upstream.call(request, 'inventory', { method: 'GET', path: `/flash-sales/${request.params.id}/tickets/${request.params.ticketId}`, idempotent: true }),
      ),
  );
};
