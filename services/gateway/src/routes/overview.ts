import { inventory, order } from '@agora/contracts';
import { AppError } from '@agora/kernel';
import { BEARER_SECURITY, ok, problems } from '../schemas.js';
import { TAGS } from '../openapi.js';
import { isSuccess, relay, type ServiceName } from '../upstream.js';
import type { RouteArea } from './context.js';

/** How many stock alerts the overview lists; `more` says when there are others. */
export const OVERVIEW_STOCK_ALERTS = 10;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Midnight UTC at the start of the day `now` is in: where "today" begins for every figure. */
export function startOfDayUtc(now: Date): Date {
  return new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS);
}

const EXAMPLE: order.AdminOverview = {
  since: '2026-12-07T00:00:00.000Z',
  orders: {
    total: 12,
    byStatus: [
      { status: 'PENDING', count: 0 },
      { status: 'RESERVED', count: 1 },
      { status: 'CONFIRMED', count: 9 },
      { status: 'REJECTED', count: 0 },
      { status: 'PAYMENT_FAILED', count: 2 },
      { status: 'CANCELLED', count: 0 },
      { status: 'EXPIRED', count: 0 },
    ],
  },
  sales: [{ amount: 48_350, currency: 'USD' }],
  conversion: { attempted: 12, confirmed: 9, rate: 0.75 },
  stockAlerts: { threshold: inventory.LOW_STOCK_THRESHOLD, items: [{ sku: 'TEE-BLK-L', onHand: 3, reserved: 1, available: 2 }], more: false },
};

function unexpected(service: ServiceName): AppError {
  return new AppError('UNAVAILABLE', `The ${service} service answered an unexpected body for the admin overview`, { extras: { service } });
}

/** The order figures as the order service sent them (its response schema shaped them); checked where read. */
function asFigures(body: unknown): order.OrderFigures {
  if (typeof body !== 'object' || body === null || !('byStatus' in body) || !('confirmedTotals' in body)) throw unexpected('order');
  const { byStatus, confirmedTotals } = body as order.OrderFigures;
  if (!Array.isArray(byStatus) || !Array.isArray(confirmedTotals)) throw unexpected('order');
  return body as order.OrderFigures;
}

function asLowStock(body: unknown): inventory.LowStock {
  if (typeof body !== 'object' || body === null || !('items' in body) || !Array.isArray(body.items)) throw unexpected('inventory');
  return body as inventory.LowStock;
}

/**
 * The admin's overview of today, composed here from two services in parallel: the order
 * service's figures (orders opened since midnight UTC across every shard, by status, and the
 * totals of the confirmed ones) and inventory's stock alerts. Conversion is derived here: it is
 * a reading of the order figures, not a fact either service keeps.
 */
export const overviewRoutes: RouteArea = (app, { upstream }) => {
  app.get(
    '/api/v1/admin/overview',
    {
      schema: {
        tags: [TAGS.orders, TAGS.inventory, TAGS.admin],
        operationId: 'getAdminOverview',
        summary: "Today's sales, orders by status, conversion, and the SKUs low on stock",
        description:
          'Today starts at midnight UTC. Sales: the totals of the orders opened today that are CONFIRMED now, per currency. Conversion: of the checkouts attempted today (every order opened today), the share CONFIRMED now. Stock alerts: the SKUs with at most `lowStockAt` units available, scarcest first.',
        security: BEARER_SECURITY,
        querystring: order.AdminOverviewQuery,
        response: { 200: ok("Today's figures", order.AdminOverview, EXAMPLE), ...problems() },
      },
      config: { access: 'admin' },
    },
    async (request, reply) => {
      const since = startOfDayUtc(new Date());
      const atMost = request.query.lowStockAt ?? inventory.LOW_STOCK_THRESHOLD;
      const [figures, low] = await Promise.all([
        upstream.call(request, 'order', { method: 'GET', path: `/admin/figures?since=${encodeURIComponent(since.toISOString())}`, idempotent: true }),
        upstream.call(request, 'inventory', { method: 'GET', path: `/admin/low-stock?atMost=${atMost}&limit=${OVERVIEW_STOCK_ALERTS}`, idempotent: true }),
      ]);
      if (!isSuccess(figures)) return relay(reply, 'order', figures);
      if (!isSuccess(low)) return relay(reply, 'inventory', low);
      const { byStatus, confirmedTotals } = asFigures(figures.body);
      const total = byStatus.reduce((n, s) => n + s.count, 0);
      const confirmed = byStatus.find((s) => s.status === 'CONFIRMED')?.count ?? 0;
      const overview: order.AdminOverview = {
        since: since.toISOString(),
        orders: { total, byStatus },
        sales: confirmedTotals,
        conversion: { attempted: total, confirmed, rate: total === 0 ? null : confirmed / total },
        stockAlerts: asLowStock(low.body),
      };
      return reply.send(overview);
    },
  );
};
