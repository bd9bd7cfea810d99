import { describe, expect, it } from 'vitest';
import { isAppError, newId, systemClock } from '@agora/kernel';
import { InMemoryEventBus, createLogger, type Caller } from '@agora/platform';
import type { FlashSaleStore } from '../src/store/flash-sale-store.js';
import { FlashSales } from '../src/app/flash-sale/flash-sales.js';
import { InMemorySaleCounter } from '../src/index.js';

const HOUR_MS = 3_600_000;
const UNITS = 3;

/** The answer of a purchase: its ticket, or the code it was refused with. */
async function answer(sales: FlashSales, caller: Caller, saleId: string, key: string): Promise<string> {
  try {
    return (await sales.purchase(caller, saleId, key, 1)).ticketId;
  } catch (err) {
    if (isAppError(err)) return err.code;
    throw err;
  }
}

/**
 * The sold-out flag answers SOLD_OUT in process, without the counter — but never to a replay of a
 * purchase the sale accepted: the same Idempotency-Key answers the same ticket (docs/api.md), also
 * right after the sale sold out. (The cluster test met it: a client sending an accepted purchase
 * again got 409 SOLD_OUT for a ticket it held.)
 */
describe('the sold-out flag of a flash sale', () => {
  it('answers SOLD_OUT in process to new purchases, and their own ticket to replays of accepted ones', async () => {
    const logger = createLogger('flash-sale-flag-test', 'silent');
    const counter = new InMemorySaleCounter();
    const counted: string[] = [];
    // The counter holds the sale, so the store is never asked.
    const sales = new FlashSales({ store: {} as FlashSaleStore, counter, bus: new InMemoryEventBus({ logger }), clock: systemClock, logger, onPurchase: (o) => counted.push(o) });
    const now = Date.now();
    const saleId = newId();
    await counter.load({ id: saleId, quantity: UNITS, startsAtMs: now - HOUR_MS, endsAtMs: now + HOUR_MS, perUserLimit: 1, forgetAtMs: now + 2 * HOUR_MS }, { remaining: UNITS, bought: new Map() });
    const buyers: Caller[] = Array.from({ length: UNITS + 2 }, () => ({ userId: newId(), role: 'customer' }));
    const tickets = await Promise.all(buyers.slice(0, UNITS).map((b, i) => answer(sales, b, saleId, `key-${i}`)));
    expect(await answer(sales, buyers[UNITS] as Caller, saleId, 'late-1')).toBe('SOLD_OUT');
    // The flag is raised once the accepted keys are read (in the background): wait for it to answer in process.
    for (let i = 0; !counted.includes('sold-out-flag') && i < 100; i++) {
      expect(await answer(sales, buyers[UNITS + 1] as Caller, saleId, `late-${i + 2}`)).toBe('SOLD_OUT');
    }
    expect(counted).toContain('sold-out-flag');
    const replays = await Promise.all(buyers.slice(0, UNITS).map((b, i) => answer(sales, b, saleId, `key-${i}`)));
    expect(replays).toEqual(tickets);
    expect(counted.filter((o) => o === 'replayed')).toHaveLength(UNITS);
    await counter.close();
  });
});
