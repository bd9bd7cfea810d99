import { afterEach, describe, expect, it, vi } from 'vitest';
import { FLASH_SALE_PURCHASES_PER_USER_PER_MINUTE } from '../src/rate-limit.js';
import { PerSecondLimit } from '../src/routes/flash-sales.js';
import { AppError } from '@agora/kernel';
import type { InventoryPort, PortCaller } from '@agora/contracts';
import { CUSTOMER_ID, bearer, buildGateway, json, type TestGateway } from './fakes.js';

const SALE_ID = '0190c6d4-0a1b-7c2d-8e3f-4a5b6c7d8e90';
const TICKET_ID = '0190c6d4-1a1b-7c2d-8e3f-4a5b6c7d8e91';
/** The general per-user limit, far above the purchase route's own. */
const PER_MINUTE = 1_000;

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.app.close();
  gw = undefined;
  vi.useRealTimers();
});

describe('flash-sale purchase limits at the gateway', () => {
  it(`a user gets ${FLASH_SALE_PURCHASES_PER_USER_PER_MINUTE} purchases a minute, then 429 before any service call; other users and other routes keep theirs`, async () => {
    gw = await buildGateway({ config: { rateLimits: { enabled: true, perMinute: PER_MINUTE, authPerMinute: 20, flashSalePurchasesPerSecond: 5_000 } } });
    gw.transport.on('inventory', 'POST', `/flash-sales/${SALE_ID}/purchase`, json(202, { ticketId: TICKET_ID, status: 'ACCEPTED' }));
    gw.transport.on('inventory', 'GET', `/flash-sales/${SALE_ID}`, json(200, { id: SALE_ID }));
    const app = gw.app;
    const buy = (token: string, key: number) =>
      app.inject({ method: 'POST', url: `/api/v1/flash-sales/${SALE_ID}/purchase`, headers: { ...bearer(token), 'idempotency-key': `k-${key}` }, payload: { quantity: 1 } });
    for (let i = 0; i < FLASH_SALE_PURCHASES_PER_USER_PER_MINUTE; i++) expect((await buy(gw.customerToken, i)).statusCode).toBe(202);
    const refused = await buy(gw.customerToken, FLASH_SALE_PURCHASES_PER_USER_PER_MINUTE);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(gw.transport.callsTo('inventory')).toHaveLength(FLASH_SALE_PURCHASES_PER_USER_PER_MINUTE);

    expect((await buy(gw.adminToken, 0)).statusCode).toBe(202);
    expect((await app.inject({ method: 'GET', url: `/api/v1/flash-sales/${SALE_ID}`, headers: bearer(gw.customerToken) })).statusCode).toBe(200);
  });

  it('the per-process limit for everyone together is the configured AGORA_FLASH_SALE_PURCHASES_PER_SECOND', async () => {
    vi.useFakeTimers({ now: new Date('2026-12-07T12:00:00.000Z'), toFake: ['Date'] });
    const perSecond = 2;
    gw = await buildGateway({ config: { rateLimits: { enabled: true, perMinute: PER_MINUTE, authPerMinute: 20, flashSalePurchasesPerSecond: perSecond } } });
    gw.transport.on('inventory', 'POST', `/flash-sales/${SALE_ID}/purchase`, json(202, { ticketId: TICKET_ID, status: 'ACCEPTED' }));
    const app = gw.app;
    const buy = (token: string, key: string) =>
      app.inject({ method: 'POST', url: `/api/v1/flash-sales/${SALE_ID}/purchase`, headers: { ...bearer(token), 'idempotency-key': key }, payload: { quantity: 1 } });
    expect((await buy(gw.customerToken, 'a')).statusCode).toBe(202);
    expect((await buy(gw.adminToken, 'b')).statusCode).toBe(202);
    const refused = await buy(gw.customerToken, 'c');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(gw.transport.callsTo('inventory')).toHaveLength(perSecond);
    vi.setSystemTime(new Date('2026-12-07T12:00:01.000Z'));
    expect((await buy(gw.customerToken, 'd')).statusCode).toBe(202);
  });

  it('the global limit counts every purchase of one second and starts over in the next', () => {
    vi.useFakeTimers({ now: new Date('2026-12-07T12:00:00.000Z') });
    const limit = new PerSecondLimit(3);
    expect([limit.take(), limit.take(), limit.take(), limit.take()]).toEqual([true, true, true, false]);
    vi.setSystemTime(new Date('2026-12-07T12:00:01.000Z'));
    expect(limit.take()).toBe(true);
  });
});

describe('flash-sale purchases to an inventory in this process (agora start)', () => {
  /** An inventory port whose sale sells `units`, recording every purchase it is asked for. */
  function inProcessInventory(units: number) {
    const asked: { caller: PortCaller; saleId: string; key: string; quantity: number }[] = [];
    let left = units;
    const refuse = () => Promise.reject(new Error('not used by the purchase route'));
    const port: InventoryPort = {
      reserve: refuse,
      commit: refuse,
      release: refuse,
      restock: refuse,
      availability: refuse,
      purchase: async (caller, saleId, key, quantity) => {
        asked.push({ caller, saleId, key, quantity });
        if (left < quantity) throw new AppError('SOLD_OUT', 'This flash sale is sold out');
        left -= quantity;
        return { ticketId: TICKET_ID, status: 'ACCEPTED' };
      },
    };
    return { port, asked };
  }

  it('buys through the port with the verified caller, key and quantity, no transport call; a refusal is its problem', async () => {
    const inventory = inProcessInventory(1);
    gw = await buildGateway({ inventory: inventory.port });
    const buy = (key: string) =>
      gw!.app.inject({ method: 'POST', url: `/api/v1/flash-sales/${SALE_ID}/purchase`, headers: { ...bearer(gw!.customerToken), 'idempotency-key': key }, payload: { quantity: 1 } });
    const bought = await buy('k-1');
    expect(bought.statusCode).toBe(202);
    expect(bought.json()).toEqual({ ticketId: TICKET_ID, status: 'ACCEPTED' });
    const soldOut = await buy('k-2');
    expect(soldOut.statusCode).toBe(409);
    expect(soldOut.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(soldOut.json()).toMatchObject({ code: 'SOLD_OUT' });
    expect(inventory.asked).toEqual([
      { caller: { userId: CUSTOMER_ID, role: 'customer' }, saleId: SALE_ID, key: 'k-1', quantity: 1 },
      { caller: { userId: CUSTOMER_ID, role: 'customer' }, saleId: SALE_ID, key: 'k-2', quantity: 1 },
    ]);
    expect(gw.transport.calls).toHaveLength(0);
  });

  it('refuses a purchase without a token or key before asking the port', async () => {
    const inventory = inProcessInventory(5);
    gw = await buildGateway({ inventory: inventory.port });
    const anonymous = await gw.app.inject({ method: 'POST', url: `/api/v1/flash-sales/${SALE_ID}/purchase`, headers: { 'idempotency-key': 'k' }, payload: { quantity: 1 } });
    expect(anonymous.statusCode).toBe(401);
    const keyless = await gw.app.inject({ method: 'POST', url: `/api/v1/flash-sales/${SALE_ID}/purchase`, headers: bearer(gw.customerToken), payload: { quantity: 1 } });
    expect(keyless.statusCode).toBe(400);
    expect(inventory.asked).toEqual([]);
  });
});
