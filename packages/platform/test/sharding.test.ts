import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SINGLE_SHARD_ID, SingleShardRouter, type Db, type ShardRouter, type Storage } from '../src/index.js';

/** The router never touches its storage, so a storage that refuses every call is enough. */
function inertStorage(): Storage {
  const refuse = (): Promise<never> => Promise.reject(new Error('the router must not use its storage'));
  return {
    kind: 'pglite',
    db: undefined as unknown as Db,
    migrate: refuse,
    query: refuse,
    transaction: refuse,
    ping: refuse,
    close: refuse,
  };
}

describe('SingleShardRouter', () => {
  it('routes every key to the one shard, over that storage', () => {
    const storage = inertStorage();
    const router: ShardRouter = new SingleShardRouter(storage);
    const shard = router.shardFor('01900000-0000-7000-8000-000000000001');
    expect(shard.id).toBe(SINGLE_SHARD_ID);
    expect(shard.storage).toBe(storage);
    fc.assert(
      fc.property(fc.string(), (key) => {
        expect(router.shardFor(key)).toBe(shard);
      }),
    );
    expect(router.shardFor('')).toBe(shard);
  });

  it('lists exactly that shard in all() and has a positive version', () => {
    const storage = inertStorage();
    const router = new SingleShardRouter(storage, 'main');
    expect(router.all()).toHaveLength(1);
    expect(router.all()[0]).toBe(router.shardFor('any'));
    expect(router.all()[0]?.id).toBe('main');
    expect(Number.isSafeInteger(router.version) && router.version >= 1).toBe(true);
    expect(Object.isFrozen(router.all())).toBe(true);
  });
});
