import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { servicesRequired } from './backends.js';

/**
 * Redis for tests, mirroring PostgreSQL and NATS: suites run against the real server when it
 * answers, and with AGORA_REQUIRE_SERVICES=1 (CI) a server that does not answer fails the run.
 */
export const TEST_REDIS_URL = process.env.AGORA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let redisReachable: Promise<boolean> | undefined;

/** Whether a Redis server answers PING at {@link TEST_REDIS_URL}. */
export function isRedisReachable(): Promise<boolean> {
  redisReachable ??= (async () => {
    const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    // Without a listener ioredis reports the refused connection as an unhandled 'error' event.
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return (await redis.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      redis.disconnect();
    }
  })();
  return redisReachable;
}

/** True when Redis tests can run; throws when they must run (AGORA_REQUIRE_SERVICES=1) and cannot. */
export async function redisAvailable(): Promise<boolean> {
  const reachable = await isRedisReachable();
  if (!reachable && servicesRequired()) {
    throw new Error(`AGORA_REQUIRE_SERVICES=1 but Redis at ${TEST_REDIS_URL} does not answer`);
  }
  return reachable;
}

/** A key prefix no other test uses (`agora_test:<random>`), so suites share one Redis safely in parallel. */
export function uniqueRedisPrefix(prefix = 'agora_test'): string {
  return `${prefix}:${randomBytes(6).toString('hex')}`;
}

/** Deletes every key under `prefix` (as made by {@link uniqueRedisPrefix}); returns how many. */
export async function deleteRedisKeys(prefix: string, url: string = TEST_REDIS_URL): Promise<number> {
  if (!/:[0-9a-f]{12}$/.test(prefix)) throw new Error(`refusing to delete keys under "${prefix}": not a unique test prefix`);
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}
