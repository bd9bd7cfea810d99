import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, initialMap, MapShardRouter, postgresLocks, shardMoveLockName, ShardMapStore, StaleFencingTokenError, type Storage } from '../src/index.js';
import { testBackends } from '../src/testing/index.js';

const logger = createLogger('sharding-test', 'silent');
/** Short poll so the test sees another writer's change quickly. */
const POLL_MS = 50;
const WAIT_MS = 5_000;

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`shard map store and router on ${backend.kind}`, () => {
    let opened: { storage: Storage; release(): Promise<void> };
    let store: ShardMapStore;

    beforeAll(async () => {
      opened = await backend.open();
      store = new ShardMapStore(opened.storage);
    });
    afterAll(async () => opened.release());

    it('creates the first map once and then reads it; a version is written once (compare-and-set)', async () => {
      const first = await store.loadOrCreate(initialMap('order', undefined));
      expect(first).toMatchObject({ service: 'order', version: 1, strategy: 'hash', members: [{ id: 's0', url: null, weight: 1 }] });
      expect((await store.loadOrCreate(initialMap('order', ['postgres://h/other']))).members).toEqual(first.members);
      const next = { ...first, version: 2, members: [...first.members, { id: 's1', url: 'postgres://h/b', weight: 1 }] };
      const results = await Promise.all([store.write(next), store.write(next)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.latestVersion('order')).toBe(2);
      expect(await store.write({ ...next, version: 4 })).toBe(false);
      expect(await store.latestVersion('cart')).toBe(0);
    });

    it('refuses a map write carrying the fencing token of a lock holder that was superseded', async () => {
      const locks = postgresLocks({ storage: opened.storage, schema: 'sharding', logger });
      try {
        const first = await locks.acquire(shardMoveLockName('cart'), { leaseMs: 50 });
        await new Promise((resolve) => setTimeout(resolve, 120));
        const second = await locks.acquire(shardMoveLockName('cart'), { leaseMs: 10_000 });
        expect(second.token).toBeGreaterThan(first.token);
        const map = initialMap('cart', undefined);
        expect(await store.write(map, second.token)).toBe(true);
        await expect(store.write({ ...map, version: 2 }, first.token)).rejects.toBeInstanceOf(StaleFencingTokenError);
        expect(await store.latestVersion('cart')).toBe(1);
        await second.release();
      } finally {
        await locks.close();
      }
    });

    it('a router follows a change written elsewhere: it polls, prepares the new shard, tells its listeners', async () => {
      const service = 'poll';
      const prepared: string[] = [];
      const router = await MapShardRouter.open({
        store: new ShardMapStore(opened.storage),
        initial: initialMap(service, undefined),
        logger,
        opener: { main: opened.storage, open: () => opened.storage, prepare: async (_storage, member) => void prepared.push(member.id) },
      });
      try {
        router.start(POLL_MS);
        let changes = 0;
        router.onChange(() => changes++);
        expect(router.all().map((s) => s.id)).toEqual(['s0']);
        // Another process's store: this router hears of the write only by polling.
        const elsewhere = new ShardMapStore(opened.storage);
        const map = await elsewhere.latest(service);
        await elsewhere.write({ ...map!, version: 2, members: [...map!.members, { id: 's1', url: 'postgres://h/second', weight: 1 }] });
        await until(() => router.version === 2);
        expect(changes).toBe(1);
        expect(router.all().map((s) => s.id)).toEqual(['s0', 's1']);
        expect(prepared).toEqual(['s0', 's1']);
        const owners = new Set(Array.from({ length: 200 }, (_, i) => router.shardFor(`00000000-0000-7000-8000-${String(i).padStart(12, '0')}`).id));
        expect(owners).toEqual(new Set(['s0', 's1']));
      } finally {
        await router.close();
      }
    });
  });
}
