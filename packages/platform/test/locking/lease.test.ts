import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  InMemoryLeaseStore,
  LeaseLockManager,
  LockLostError,
  PostgresLeaseStore,
  PostgresStorage,
  RedisLeaseStore,
  type FencingToken,
  type LeaseStore,
} from '../../src/index.js';
import { TEST_REDIS_URL, createTestDatabase, deleteRedisKeys, postgresBackend, redisAvailable, uniqueRedisPrefix } from '../../src/testing/index.js';
import { createLockingSchema, logger, sleep } from './support.js';

const LEASE_MS = 60;

/** An in-memory store whose answers arrive late, counting the drops it is asked for. */
class SlowStore implements LeaseStore {
  private readonly inner = new InMemoryLeaseStore();
  takeDelayMs = 0;
  renewDelayMs = 0;
  drops = 0;
  refuseRenewals = false;

  async take(name: string, owner: string, leaseMs: number): Promise<FencingToken | undefined> {
    const token = await this.inner.take(name, owner, leaseMs);
    await sleep(this.takeDelayMs);
    return token;
  }
  async renew(name: string, owner: string, token: FencingToken, leaseMs: number): Promise<boolean> {
    const renewed = !this.refuseRenewals && (await this.inner.renew(name, owner, token, leaseMs));
    await sleep(this.renewDelayMs);
    return renewed;
  }
  async drop(name: string, owner: string, token: FencingToken): Promise<boolean> {
    this.drops++;
    return this.inner.drop(name, owner, token);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The shared lease manager's edges, which no real server produces on demand. */
describe('lease manager', () => {
  it('a lease whose grant arrives after it ran out is born lost, and given back at once', async () => {
    const store = new SlowStore();
    const locks = new LeaseLockManager(store, { logger });
    store.takeDelayMs = LEASE_MS * 2;
    const lock = await locks.acquire('late-grant', { leaseMs: LEASE_MS });
    expect(lock.isHeld()).toBe(false);
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(lock.signal.reason).toMatchObject({ reason: 'expired' });
    await expect(lock.extend()).rejects.toMatchObject({ reason: 'expired' });
    expect(store.drops).toBe(1);
    await locks.close();
  });

  it('a lease that runs out while its renewal is in flight stays lost, and the renewed lease is given back', async () => {
    const store = new SlowStore();
    const locks = new LeaseLockManager(store, { logger });
    const lock = await locks.acquire('late-renewal', { leaseMs: LEASE_MS });
    store.renewDelayMs = LEASE_MS * 2;
    await expect(lock.extend()).rejects.toMatchObject({ code: 'LOCK_LOST', reason: 'expired' });
    expect(lock.isHeld()).toBe(false);
    expect(store.drops).toBe(1);
    // Given back: the next holder does not wait for the renewed lease.
    expect(await locks.tryAcquire('late-renewal', { leaseMs: LEASE_MS })).toBeDefined();
    await locks.close();
  });

  it('an extend the store refuses aborts the signal as superseded', async () => {
    const store = new SlowStore();
    const locks = new LeaseLockManager(store, { logger });
    const lock = await locks.acquire('stolen', { leaseMs: 10_000 });
    // What an operator deleting the key, or a store that lost it in a failover, looks like to the holder.
    store.refuseRenewals = true;
    await expect(lock.extend()).rejects.toMatchObject({ code: 'LOCK_LOST', reason: 'superseded' });
    expect(lock.signal.aborted).toBe(true);
    expect(lock.isHeld()).toBe(false);
    await locks.close();
  });
});

/** Each store opened raw, to call `take` as a retried command would. */
const stores: { name: string; available: () => Promise<boolean>; open: () => Promise<{ store: LeaseStore; release(): Promise<void> }> }[] = [
  { name: 'in-memory', available: async () => true, open: async () => ({ store: new InMemoryLeaseStore(), release: async () => undefined }) },
  {
    name: 'redis',
    available: redisAvailable,
    async open() {
      const prefix = uniqueRedisPrefix('agora_test_lease');
      const store = new RedisLeaseStore(new Redis(TEST_REDIS_URL), prefix, true);
      return { store, release: async () => void (await store.close(), await deleteRedisKeys(prefix)) };
    },
  },
  {
    name: 'postgresql',
    available: () => postgresBackend.available(),
    async open() {
      const database = await createTestDatabase('agora_test_lease');
      const storage = new PostgresStorage({ url: database.url, poolMax: 1 });
      const store = new PostgresLeaseStore({ storage, schema: await createLockingSchema(storage) });
      return { store, release: async () => void (await storage.close(), await database.drop()) };
    },
  },
];

for (const { name, available, open } of stores) {
  describe.runIf(await available())(`lease store on ${name}`, () => {
    it('a take retried by the same owner (its reply was lost) finds the lease its own; another owner does not', async () => {
      const { store, release } = await open();
      try {
        const first = await store.take('retried', 'owner-1', 10_000);
        const again = await store.take('retried', 'owner-1', 10_000);
        expect(first).toBeDefined();
        expect(again).toBeDefined();
        // Redis and memory give the same token back; PostgreSQL draws a higher one for the same owner.
        expect(again!).toBeGreaterThanOrEqual(first!);
        expect(await store.take('retried', 'owner-2', 10_000)).toBeUndefined();
        expect(await store.renew('retried', 'owner-1', again!, 10_000)).toBe(true);
        expect(await store.renew('retried', 'owner-2', again!, 10_000)).toBe(false);
        expect(await store.drop('retried', 'owner-1', again!)).toBe(true);
        expect(await store.take('retried', 'owner-2', 10_000)).toBeGreaterThan(again!);
      } finally {
        await release();
      }
    });
  });
}
