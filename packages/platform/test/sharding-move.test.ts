import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import {
  MapShardRouter,
  ShardMapStore,
  createLogger,
  initialMap,
  moveKeys,
  onKeyShard,
  shardFenceOf,
  type ShardedData,
  type ShardMember,
  type Storage,
} from '../src/index.js';
import { postgresBackend } from '../src/testing/index.js';

const logger = createLogger('move-test', 'silent');
const KEYS = 60;
/** Short waits: the test's router polls fast, and nothing needs the production grace. */
const LIMITS = { graceMs: 150, quiesceMs: 500, quiescePollMs: 10 } as const;

/** A toy sharded service: `kv.items(key, n)` with `kv.busy(key)` standing for running work. */
const KV: ShardedData = {
  service: 'kv',
  guarded: [{ table: 'kv.items', keyColumn: 'key' }],
  knownKey: 'exists (select 1 from kv.items x where x.key = $KEY)',
  moved: [{ table: 'kv.items', rowsOf: (keys) => sql`t.key = any(${keys})` }],
  async keys(storage, executor) {
    return (await storage.query<{ key: string }>(sql`select key from kv.items`, executor)).map((r) => r.key);
  },
  async pendingWork(storage, keys) {
    const [row] = await storage.query<{ n: number }>(sql`select count(*)::int as n from kv.busy where key = any(array(select jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb)))`);
    return row?.n ?? 0;
  },
};

const key = (i: number): string => `user-${String(i).padStart(4, '0')}`;

/** The mover on real databases: which keys move, what the fences refuse, and an undone move. */
describe.runIf(await postgresBackend.available())('moving keys between shards (PostgreSQL)', () => {
  const opened: { storage: Storage; url?: string; release(): Promise<void> }[] = [];
  let main: Storage;
  let store: ShardMapStore;
  let router: MapShardRouter;
  const members = (): ShardMember[] => opened.slice(1).map((o, i) => ({ id: `s${i}`, url: o.url ?? '', weight: 1 }));
  const storageOf = async (member: ShardMember): Promise<Storage> => opened.find((o) => o.url === member.url)?.storage ?? main;

  beforeAll(async () => {
    for (let i = 0; i < 4; i++) opened.push(await postgresBackend.open());
    main = opened[0]!.storage;
    for (const o of opened.slice(1)) {
      await o.storage.query(sql`create schema kv`);
      await o.storage.query(sql`create table kv.items (key text primary key, n int not null)`);
      await o.storage.query(sql`create table kv.busy (key text primary key)`);
    }
    store = new ShardMapStore(main);
    const two = { ...initialMap('kv', undefined), members: members().slice(0, 2) };
    router = await MapShardRouter.open({ store, initial: two, logger, opener: { main, open: (url) => opened.find((o) => o.url === url)!.storage } });
    for (let i = 0; i < KEYS; i++) await onKeyShard(router, key(i), (shard) => shard.storage.query(sql`insert into kv.items values (${key(i)}, ${i})`));
  }, 120_000);

  afterAll(async () => {
    for (const o of opened) await o.release();
  });

  const where = async (): Promise<Map<string, string[]>> => {
    const found = new Map<string, string[]>();
    for (const [i, o] of opened.slice(1).entries()) {
      for (const { key: k } of await o.storage.query<{ key: string }>(sql`select key from kv.items`)) found.set(k, [...(found.get(k) ?? []), `s${i}`]);
    }
    return found;
  };

  it('moves exactly the keys whose owner changes, each to its new owner, and fences the old copies', async () => {
    const before = new Map([...Array(KEYS).keys()].map((i) => [key(i), router.shardFor(key(i)).id]));
    const from = (await store.latest('kv'))!;
    const report = await moveKeys({ store, data: KV, from, target: { strategy: 'hash', members: members() }, storageOf, fence: 1n, logger, limits: LIMITS });
    await router.refresh();
    expect(router.version).toBe(2);
    const after = await where();
    let moved = 0;
    for (let i = 0; i < KEYS; i++) {
      const k = key(i);
      expect(after.get(k), k).toEqual([router.shardFor(k).id]);
      if (router.shardFor(k).id !== before.get(k)) moved++;
    }
    expect(report.movedKeys).toBe(moved);
    expect(moved).toBeGreaterThan(0);
    expect(Object.keys(report.routes).every((route) => route.endsWith('→s2'))).toBe(true);
    // A writer still routing by version 1 meets the fence on the old shard, then follows the map.
    const movedKey = [...before].find(([k, owner]) => router.shardFor(k).id !== owner)!;
    const oldShard = opened[1 + Number(movedKey[1].slice(1))]!.storage;
    const refused = await oldShard.query(sql`insert into kv.items values (${movedKey[0]}, 0)`).catch((err: unknown) => err);
    expect(shardFenceOf(refused)).toBe('moved');
    const newcomer = await oldShard.query(sql`insert into kv.items values ('brand-new', 1)`).then(() => 'written', (err: unknown) => shardFenceOf(err));
    expect(newcomer, 'a source takes new keys again once the move is done').toBe('written');
    await oldShard.query(sql`delete from kv.items where key = 'brand-new'`);
  });

  it('undoes a move whose keys stay busy past the limit: nothing moved, nothing frozen, map unchanged', async () => {
    const from = (await store.latest('kv'))!;
    const target = { strategy: 'hash' as const, members: members().slice(0, 2) };
    // Busy: every key on the third shard has running work that never ends.
    await opened[3]!.storage.query(sql`insert into kv.busy select key from kv.items`);
    const held = await where();
    await expect(moveKeys({ store, data: KV, from, target, storageOf, fence: 2n, logger, limits: LIMITS })).rejects.toThrow(/still running/);
    expect(await where()).toEqual(held);
    expect((await store.latest('kv'))!.version).toBe(from.version);
    const [frozen] = await opened[3]!.storage.query<{ n: number }>(sql`select count(*)::int as n from sharding.moved_keys where state = 'frozen'`);
    expect(frozen?.n).toBe(0);
    const k = [...held].find(([, shards]) => shards[0] === 's2')![0];
    await onKeyShard(router, k, (shard) => shard.storage.query(sql`update kv.items set n = n + 1 where key = ${k}`));
    // Once the work is done, the same move goes through and the third shard empties.
    await opened[3]!.storage.query(sql`delete from kv.busy`);
    await moveKeys({ store, data: KV, from, target, storageOf, fence: 3n, logger, limits: LIMITS });
    expect(await opened[3]!.storage.query(sql`select key from kv.items`)).toEqual([]);
    await router.refresh();
    for (let i = 0; i < KEYS; i++) expect((await where()).get(key(i))).toEqual([router.shardFor(key(i)).id]);
  });

  it('refuses the write of a frozen key with the moving fence, and a stale map write with the fencing token', async () => {
    const from = (await store.latest('kv'))!;
    await expect(moveKeys({ store, data: KV, from, target: { strategy: 'hash', members: members() }, storageOf, fence: 1n, logger, limits: LIMITS })).rejects.toThrow(/fencing token 1/);
    const shard = opened[1]!.storage;
    await shard.query(sql`insert into sharding.moved_keys (service, key, state) values ('kv', 'frozen-key', 'frozen')`);
    const refused = await shard.query(sql`insert into kv.items values ('frozen-key', 1)`).catch((err: unknown) => err);
    expect(shardFenceOf(refused)).toBe('moving');
    await shard.query(sql`delete from sharding.moved_keys where key = 'frozen-key'`);
  });
});
