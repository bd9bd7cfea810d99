import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { InMemoryLeaseStore, LeaseLockManager, StaleFencingTokenError, advanceFence, fenceToken, type Storage } from '../../src/index.js';
import { testBackends } from '../../src/testing/index.js';
import { createLockingSchema, createShardMap, logger, readShardMap, sleep, writeShardMap } from './support.js';

/** Concurrent fenced writers in the race test, each with its own token. */
const WRITERS = 12;

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`fenced writes on ${backend.kind}`, () => {
    let opened: Awaited<ReturnType<typeof backend.open>>;
    let storage: Storage;
    let schema: string;

    beforeAll(async () => {
      opened = await backend.open();
      storage = opened.storage;
      schema = await createLockingSchema(storage);
      await createShardMap(storage, schema);
    });
    afterAll(async () => {
      await opened.release();
    });

    it('accepts an equal or higher token and refuses a lower one with StaleFencingTokenError, rolling back its write', async () => {
      expect(await fenceToken(storage, schema, 'map-a')).toBeUndefined();
      await writeShardMap(storage, schema, 'map-a', 5n, 'holder-5');
      await writeShardMap(storage, schema, 'map-a', 5n, 'holder-5 again');
      await writeShardMap(storage, schema, 'map-a', 7n, 'holder-7');
      const refused = await writeShardMap(storage, schema, 'map-a', 6n, 'holder-6').catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(StaleFencingTokenError);
      expect(refused).toMatchObject({ code: 'STALE_FENCING_TOKEN', resource: 'map-a', token: 6n, highest: 7n });
      expect(await readShardMap(storage, schema, 'map-a')).toEqual({ owner: 'holder-7', token: '7' });
      expect(await fenceToken(storage, schema, 'map-a')).toBe(7n);
      // Fences are per resource: another resource has seen no token yet.
      await writeShardMap(storage, schema, 'map-b', 1n, 'holder-1');
      expect(await readShardMap(storage, schema, 'map-b')).toEqual({ owner: 'holder-1', token: '1' });
    });

    it('advanceFence in the caller\'s transaction: a refusal rolls back what the transaction wrote before it', async () => {
      await writeShardMap(storage, schema, 'map-c', 10n, 'holder-10');
      const refused = await storage
        .transaction(async (tx) => {
          await storage.query(sql`update ${sql.identifier(schema)}.shard_map set owner = 'sneaky' where resource = 'map-c'`, tx);
          await advanceFence(storage, tx, { schema, resource: 'map-c', token: 9n });
        })
        .catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(StaleFencingTokenError);
      expect(await readShardMap(storage, schema, 'map-c')).toEqual({ owner: 'holder-10', token: '10' });
    });

    it('concurrent writers: the highest token\'s write is the last, and accepted tokens never go down in commit order', async () => {
      const tokens = Array.from({ length: WRITERS }, (_, i) => BigInt(i + 1)).sort(() => Math.random() - 0.5);
      const outcomes = await Promise.allSettled(tokens.map((token) => writeShardMap(storage, schema, 'map-race', token, `holder-${token}`)));
      for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(StaleFencingTokenError);
      // The race happened: some writer came after a higher token (shuffled, all 12 in ascending order is 1 in 12!).
      expect(outcomes.some((o) => o.status === 'rejected')).toBe(true);
      expect(await readShardMap(storage, schema, 'map-race')).toEqual({ owner: `holder-${WRITERS}`, token: String(WRITERS) });
      const log = await storage.query<{ token: string }>(sql`select token::text as token from ${sql.identifier(schema)}.shard_map_log where resource = 'map-race' order by seq`);
      const accepted = log.map((row) => BigInt(row.token));
      expect(accepted.length).toBe(outcomes.filter((o) => o.status === 'fulfilled').length);
      expect(accepted.at(-1)).toBe(BigInt(WRITERS));
      for (let i = 1; i < accepted.length; i++) expect(accepted[i]).toBeGreaterThanOrEqual(accepted[i - 1]!);
    });

    it('a holder paused past its lease has its late write refused; the new holder\'s write stands', async () => {
      const locks = new LeaseLockManager(new InMemoryLeaseStore(), { logger });
      const LEASE_MS = 100;
      const paused = await locks.acquire('shard-move', { leaseMs: LEASE_MS });
      await sleep(LEASE_MS * 2);
      const next = await locks.acquire('shard-move', { leaseMs: LEASE_MS * 50 });
      await writeShardMap(storage, schema, 'map-move', next.token, 'new holder');
      await expect(writeShardMap(storage, schema, 'map-move', paused.token, 'paused holder')).rejects.toBeInstanceOf(StaleFencingTokenError);
      expect(await readShardMap(storage, schema, 'map-move')).toEqual({ owner: 'new holder', token: String(next.token) });
      await locks.close();
    });

    it('refuses a bad fence target, naming the limit', async () => {
      await expect(fenceToken(storage, 'Bad-Schema', 'x')).rejects.toThrow(/lowercase identifier/);
      await expect(writeShardMap(storage, schema, '', 1n, 'x')).rejects.toThrow(/1\.\.200 \(FENCE_LIMITS\.resourceLengthMax\)/);
      await expect(writeShardMap(storage, schema, 'map-d', 0n, 'x')).rejects.toThrow(/positive bigint, got 0/);
    });
  });
}
