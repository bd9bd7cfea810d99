/**
 * The paused holder of paused-holder.test.ts, in a process of its own so the test can SIGSTOP it.
 * It takes the Redis lock with withLock (renewing every third of the lease, as real work would),
 * reports `holding`, and waits for `write` on stdin; then it writes the shard map fenced with the
 * token it was given — without looking at its lock first, as a process that checked just before a
 * pause would. Every event is one JSON line on stdout.
 */
import { createInterface } from 'node:readline';
import { PostgresStorage, StaleFencingTokenError, connectRedisLocks } from '../../src/index.js';
import { logger, writeShardMap } from './support.js';

const setting = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`paused holder: ${name} is not set`);
  return value;
};

const report = (event: Record<string, string>) => process.stdout.write(`${JSON.stringify(event)}\n`);

const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

async function nextLine(expected: string): Promise<void> {
  const { value, done } = await lines.next();
  if (done || value !== expected) throw new Error(`paused holder: expected "${expected}" on stdin, got ${done ? 'end of input' : JSON.stringify(value)}`);
}

const schema = setting('LOCK_TEST_SCHEMA');
const resource = setting('LOCK_TEST_RESOURCE');
const storage = new PostgresStorage({ url: setting('LOCK_TEST_DATABASE_URL'), poolMax: 1 });
const locks = await connectRedisLocks({ url: setting('LOCK_TEST_REDIS_URL'), keyPrefix: setting('LOCK_TEST_KEY_PREFIX'), logger });
await storage.ping();
try {
  await locks.withLock(setting('LOCK_TEST_NAME'), { leaseMs: Number(setting('LOCK_TEST_LEASE_MS')) }, async (lock) => {
    lock.signal.addEventListener('abort', () => report({ event: 'lost', reason: (lock.signal.reason as { reason: string }).reason }));
    report({ event: 'holding', token: String(lock.token) });
    await nextLine('write');
    try {
      await writeShardMap(storage, schema, resource, lock.token, 'paused holder');
      report({ event: 'wrote' });
    } catch (err) {
      if (!(err instanceof StaleFencingTokenError)) throw err;
      report({ event: 'refused', token: String(err.token), highest: String(err.highest) });
    }
  });
} finally {
  input.close();
  await locks.close();
  await storage.close();
}
