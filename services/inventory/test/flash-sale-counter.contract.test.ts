import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@agora/kernel';
import { deleteRedisKeys, redisAvailable, TEST_REDIS_URL, uniqueRedisPrefix } from '@agora/platform/testing';
import { InMemorySaleCounter, RedisSaleCounter, type SaleCounter, type SaleTerms } from '../src/index.js';

/** Buyers racing for the units of one sale in the race test; more than the units, so some must lose. */
const RACERS = 200;
const UNITS = 37;
const HOUR_MS = 3_600_000;

interface Adapter {
  name: string;
  available(): Promise<boolean>;
  open(): Promise<{ counter: SaleCounter; forget(): Promise<void>; release(): Promise<void> }>;
}

const adapters: Adapter[] = [
  {
    name: 'in-memory',
    available: async () => true,
    async open() {
      const counter = new InMemorySaleCounter();
      return { counter, forget: async () => counter.forgetAll(), release: () => counter.close() };
    },
  },
  {
    name: 'redis',
    available: redisAvailable,
    async open() {
      const prefix = uniqueRedisPrefix('agora_flash_test');
      const counter = await RedisSaleCounter.connect(TEST_REDIS_URL, prefix);
      const forget = async (): Promise<void> => void (await deleteRedisKeys(prefix));
      return { counter, forget, release: async () => (await forget(), await counter.close()) };
    },
  },
];

function terms(overrides: Partial<SaleTerms> = {}): SaleTerms {
  const now = Date.now();
  return { id: newId(), quantity: 10, startsAtMs: now - HOUR_MS, endsAtMs: now + HOUR_MS, perUserLimit: 2, forgetAtMs: now + 2 * HOUR_MS, ...overrides };
}

const buy = (userId: string, quantity = 1, idempotencyKey: string = newId()) => ({ userId, idempotencyKey, quantity, ticketId: newId(), nowMs: Date.now() });

/** One contract, both adapters: the in-memory counter of `npm start` must answer as the Redis scripts do. */
for (const adapter of adapters) {
  describe.runIf(await adapter.available())(`flash-sale counter contract on ${adapter.name}`, () => {
    let counter: SaleCounter;
    let forget: () => Promise<void>;
    let release: () => Promise<void>;

    beforeAll(async () => {
      ({ counter, forget, release } = await adapter.open());
    });
    afterAll(async () => release?.());

    it('answers unknown for a sale it does not hold, and loads a sale only once', async () => {
      const sale = terms();
      expect(await counter.purchase(sale.id, buy(newId()))).toEqual({ kind: 'unknown' });
      expect(await counter.load(sale, { remaining: 10, bought: new Map() })).toBe(true);
      expect(await counter.load(sale, { remaining: 3, bought: new Map() })).toBe(false);
      expect(await counter.remaining(sale.id)).toBe(10);
    });

    it('accepts while units are left and the buyer is under the limit; then LIMIT, SOLD_OUT; NOT_ACTIVE outside the window', async () => {
      const sale = terms({ quantity: 3 });
      await counter.load(sale, { remaining: 3, bought: new Map() });
      const ann = newId();
      expect((await counter.purchase(sale.id, buy(ann, 2))).kind).toBe('accepted');
      expect((await counter.purchase(sale.id, buy(ann, 1))).kind).toBe('limit');
      expect((await counter.purchase(sale.id, buy(newId(), 2))).kind).toBe('sold-out');
      expect((await counter.purchase(sale.id, buy(newId(), 1))).kind).toBe('accepted');
      expect(await counter.remaining(sale.id)).toBe(0);
      const later = terms({ startsAtMs: Date.now() + HOUR_MS, endsAtMs: Date.now() + 2 * HOUR_MS });
      await counter.load(later, { remaining: 5, bought: new Map() });
      expect((await counter.purchase(later.id, buy(newId()))).kind).toBe('not-active');
    });

    it('replays the same ticket for the same key and quantity, refuses another quantity, counts the units once', async () => {
      const sale = terms();
      await counter.load(sale, { remaining: 10, bought: new Map() });
      const first = buy(newId(), 1, 'key-1');
      const accepted = await counter.purchase(sale.id, first);
      expect(accepted.kind).toBe('accepted');
      expect(await counter.purchase(sale.id, { ...first, ticketId: newId() })).toEqual({ kind: 'replayed', ticketId: first.ticketId });
      expect(await counter.purchase(sale.id, { ...first, quantity: 2, ticketId: newId() })).toEqual({ kind: 'mismatch' });
      expect(await counter.remaining(sale.id)).toBe(9);
      expect(await counter.pendingTicket(sale.id, first.ticketId)).toEqual({ ticketId: first.ticketId, userId: first.userId, quantity: 1 });
    });

    it("lists the keys of the purchases it accepted (user:key), none it refused; nothing over the bound or for a sale it does not hold", async () => {
      const sale = terms({ quantity: 2, perUserLimit: 1 });
      expect(await counter.acceptedKeys(sale.id, 10)).toBeUndefined();
      await counter.load(sale, { remaining: 2, bought: new Map() });
      const [a, b, c] = [buy(newId(), 1, 'key-a'), buy(newId(), 1, 'key-b'), buy(newId(), 1, 'key-c')];
      for (const request of [a, b, c]) await counter.purchase(sale.id, request);
      expect(await counter.acceptedKeys(sale.id, 10)).toEqual(new Set([`${a.userId}:key-a`, `${b.userId}:key-b`]));
      expect(await counter.acceptedKeys(sale.id, 1)).toBeUndefined();
    });

    it(`${RACERS} concurrent buyers of ${UNITS} units: exactly ${UNITS} accepted`, async () => {
      const sale = terms({ quantity: UNITS, perUserLimit: 1 });
      await counter.load(sale, { remaining: UNITS, bought: new Map() });
      const answers = await Promise.all(Array.from({ length: RACERS }, () => counter.purchase(sale.id, buy(newId()))));
      expect(answers.filter((a) => a.kind === 'accepted')).toHaveLength(UNITS);
      expect(answers.filter((a) => a.kind === 'sold-out')).toHaveLength(RACERS - UNITS);
      const state = await counter.state(sale.id);
      expect(state).toMatchObject({ loaded: true, remaining: 0 });
      expect(state.pending).toHaveLength(UNITS);
    });

    it('settles tickets, gives units back once per ticket, and starts the buyer over', async () => {
      const sale = terms({ perUserLimit: 1 });
      await counter.load(sale, { remaining: 10, bought: new Map([['0190c6d2-1b2a-7c3d-8e4f-5a6b7c8d9e0f', 1]]) });
      expect((await counter.purchase(sale.id, buy('0190c6d2-1b2a-7c3d-8e4f-5a6b7c8d9e0f'))).kind).toBe('limit');
      const bob = buy(newId());
      await counter.purchase(sale.id, bob);
      await counter.settle(sale.id, bob.ticketId);
      expect((await counter.state(sale.id)).pending).toEqual([]);
      const ticket = { ticketId: bob.ticketId, userId: bob.userId, quantity: 1 };
      expect(await counter.giveBack(sale.id, ticket)).toBe(true);
      expect(await counter.giveBack(sale.id, ticket)).toBe(false);
      expect(await counter.remaining(sale.id)).toBe(10);
      expect((await counter.purchase(sale.id, buy(bob.userId))).kind).toBe('accepted');
    });

    it('applies a correction under a token no lower than the last one applied, refuses an older one', async () => {
      const sale = terms();
      expect(await counter.adjust(sale.id, 1, 1n)).toBe('absent');
      await counter.load(sale, { remaining: 10, bought: new Map() });
      expect(await counter.adjust(sale.id, -3, 5n)).toBe('applied');
      expect(await counter.adjust(sale.id, 1, 5n)).toBe('applied');
      expect(await counter.adjust(sale.id, 100, 4n)).toBe('stale');
      expect(await counter.remaining(sale.id)).toBe(8);
    });

    it('after losing its state (a flush), knows no sale and can be loaded again', async () => {
      const sale = terms();
      await counter.load(sale, { remaining: 10, bought: new Map() });
      await forget();
      expect(await counter.remaining(sale.id)).toBeUndefined();
      expect((await counter.state(sale.id)).loaded).toBe(false);
      expect(await counter.load(sale, { remaining: 4, bought: new Map() })).toBe(true);
      expect(await counter.remaining(sale.id)).toBe(4);
    });
  });
}
