import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { flashSale } from '@agora/contracts';
import { expect } from 'vitest';
import type { ApiResponse } from './http.js';
import { eventually, type Order, type Shop, type Shopper } from './shop.js';

/** Flash sales as a client sees them: the public contract's own types (docs/api.md, "Flash sales"). */
export type FlashSale = flashSale.FlashSale;
export type FlashSaleStats = flashSale.FlashSaleStats;
export type Ticket = flashSale.Ticket;

const MINUTE_MS = 60_000;

export function saleBody(sku: string, quantity: number, perUserLimit: number, window: { startsInMs?: number; lastsMs?: number } = {}) {
  const startsAt = new Date(Date.now() + (window.startsInMs ?? -MINUTE_MS));
  const endsAt = new Date(startsAt.getTime() + (window.lastsMs ?? 60 * MINUTE_MS));
  return { sku, quantity, price: { amount: 1_500, currency: 'USD' }, startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString(), perUserLimit };
}

export async function createSale(shop: Shop, body: ReturnType<typeof saleBody> & { paymentWindowSeconds?: number }): Promise<FlashSale> {
  const res = await shop.api.post<FlashSale>('/api/v1/admin/flash-sales', body, { token: shop.adminToken });
  expect(res.status, res.text).toBe(201);
  return res.body;
}

export function purchase(shop: Shop, buyer: Shopper, saleId: string, quantity = 1, key: string = randomUUID()): Promise<ApiResponse<Ticket & { code?: string }>> {
  return shop.api.post<Ticket & { code?: string }>(`/api/v1/flash-sales/${saleId}/purchase`, { quantity }, { token: buyer.token, headers: { 'idempotency-key': key } });
}

export async function ticket(shop: Shop, buyer: Shopper, saleId: string, ticketId: string): Promise<Ticket> {
  const res = await shop.api.get<Ticket>(`/api/v1/flash-sales/${saleId}/tickets/${ticketId}`, { token: buyer.token });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** Waits until the ticket is an order (ORDERED and the order readable), and returns the order. */
export async function orderOf(shop: Shop, buyer: Shopper, saleId: string, ticketId: string): Promise<Order> {
  const ordered = await eventually('ticket ordered', () => ticket(shop, buyer, saleId, ticketId), (t) => t.status !== 'ACCEPTED');
  expect(ordered).toMatchObject({ status: 'ORDERED', orderId: ticketId });
  const found = await eventually(
    'order opened',
    () => shop.api.get<Order>(`/api/v1/orders/${ticketId}`, { token: buyer.token }),
    (res) => res.status === 200 && res.body.status === 'RESERVED',
  );
  return found.body;
}

export async function stats(shop: Shop, saleId: string): Promise<FlashSaleStats> {
  const res = await shop.api.get<FlashSaleStats>(`/api/v1/admin/flash-sales/${saleId}`, { token: shop.adminToken });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** The sale's row as PostgreSQL keeps it: the truth every count is checked against. */
export async function saleRow(shop: Shop, saleId: string): Promise<{ quantity: number; sold: number }> {
  const storage = await shop.storage('inventory');
  const [row] = await storage.query<{ quantity: number; sold: number }>(sql`select quantity, sold from inventory.flash_sales where id = ${saleId}::uuid`);
  if (!row) throw new Error(`no flash sale ${saleId}`);
  return { quantity: Number(row.quantity), sold: Number(row.sold) };
}

/** Orders the sale became, by status, and the buyers holding more than one, across every order shard. */
export async function ordersOfSale(shop: Shop, saleId: string): Promise<{ byStatus: Record<string, number>; units: number; buyersOverOne: number }> {
  const storage = await shop.storage('order');
  const rows = await storage.query<{ user_id: string; status: string; units: number }>(
    sql`select o.user_id, o.status, (select sum(quantity) from orders.order_lines l where l.order_id = o.id) as units
        from orders.orders o where o.idempotency_key like ${`flash-sale:${saleId}:%`}`,
  );
  const byStatus: Record<string, number> = {};
  const perBuyer = new Map<string, number>();
  let units = 0;
  for (const row of rows) {
    byStatus[row.status] = (byStatus[row.status] ?? 0) + 1;
    if (row.status !== 'EXPIRED' && row.status !== 'PAYMENT_FAILED') {
      units += Number(row.units);
      perBuyer.set(row.user_id, (perBuyer.get(row.user_id) ?? 0) + 1);
    }
  }
  return { byStatus, units, buyersOverOne: [...perBuyer.values()].filter((n) => n > 1).length };
}
