import { Redis } from 'ioredis';
import { traceRedis } from '../telemetry/tracing-redis.js';
import type { Logger } from '../telemetry/logger.js';
import type { FencingToken } from './lock.js';
import { LeaseLockManager, type LeaseStore } from './lease.js';

export interface RedisLocksOptions {
  url: string;
  logger: Logger;
  /** Prefix of every key; tests use a unique one each. Default {@link REDIS_LOCKS_DEFAULTS}.keyPrefix. */
  keyPrefix?: string;
  /** A command not answered in this time fails; the lease then runs out on its own. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Connection name shown by CLIENT LIST. */
  name?: string;
}

export const REDIS_LOCKS_DEFAULTS = {
  keyPrefix: 'agora:locks',
  /** Well under a typical lease, so a stuck extend fails while there is time to retry it. */
  commandTimeoutMs: 1_000,
  connectTimeoutMs: 3_000,
  maxReconnectDelayMs: 1_000,
} as const;

/** Letters, digits and `_ : . -`, as for the discovery prefix. */
const KEY_PREFIX = /^[A-Za-z0-9_:.-]{1,128}$/;

/**
 * Takes the lease when the holder key is absent: the token comes from INCR on the name's counter
 * key, and the holder key is written with SET NX PX as `<token> <owner>`. The owner's own earlier
 * attempt (reply lost, retried) gets its token back. One script, so nothing runs between the check
 * and the SET, and no token is drawn by an attempt that fails. `%d` keeps tokens exact (Lua
 * numbers are doubles: exact to 2^53, ten thousand years at a million acquisitions a second).
 */
const TAKE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local token, owner = string.match(current, '^(%d+) (.+)$')
  if owner == ARGV[1] then return token end
  return false
end
local token = string.format('%d', redis.call('INCR', KEYS[2]))
redis.call('SET', KEYS[1], token .. ' ' .. ARGV[1], 'NX', 'PX', ARGV[2])
return token
`;

/** Compare-and-extend: only the holder whose `<token> <owner>` is stored may push the expiry. */
const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/** Compare-and-delete: a late release never deletes the next holder's key. */
const DROP_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface LockCommands {
  agoraLockTake(holderKey: string, counterKey: string, owner: string, leaseMs: number): Promise<string | null>;
  agoraLockRenew(holderKey: string, holder: string, leaseMs: number): Promise<number>;
  agoraLockDrop(holderKey: string, holder: string): Promise<number>;
}

/**
 * Layout, for a lock N under prefix P (default `agora:locks`):
 * - `P:{N}:holder` — `<token> <owner>` with a PX TTL: the lease; its absence means free;
 * - `P:{N}:token` — the counter INCR draws tokens from; no TTL, it must outlive every holder.
 * The `{N}` hash tag puts both in one slot, so the scripts also run on Redis Cluster.
 *
 * The lease is measured by Redis's clock; tokens are only as durable as the counter key: a Redis
 * restarted without persistence (appendonly) starts again at 1, and fences then refuse the new
 * holders' writes until an operator clears them (docs/locking.md).
 */
export class RedisLeaseStore implements LeaseStore {
  private readonly commands: Redis & LockCommands;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string = REDIS_LOCKS_DEFAULTS.keyPrefix,
    /** Whether `close` quits the connection (true when this store opened it). */
    private readonly ownsConnection = false,
  ) {
    if (!KEY_PREFIX.test(keyPrefix)) throw new RangeError(`lock key prefix must be 1..128 letters, digits or _ : . -, got "${keyPrefix}"`);
    redis.defineCommand('agoraLockTake', { numberOfKeys: 2, lua: TAKE_SCRIPT });
    redis.defineCommand('agoraLockRenew', { numberOfKeys: 1, lua: RENEW_SCRIPT });
    redis.defineCommand('agoraLockDrop', { numberOfKeys: 1, lua: DROP_SCRIPT });
    this.commands = redis as Redis & LockCommands;
  }

  async take(name: string, owner: string, leaseMs: number): Promise<FencingToken | undefined> {
    const token = await this.commands.agoraLockTake(this.key(name, 'holder'), this.key(name, 'token'), owner, leaseMs);
    if (token === null) return undefined;
    if (typeof token !== 'string' || !/^[1-9][0-9]*$/.test(token)) throw new Error(`locking: unexpected reply to the take script: ${String(token)}`);
    return BigInt(token);
  }

  async renew(name: string, owner: string, token: FencingToken, leaseMs: number): Promise<boolean> {
    return (await this.commands.agoraLockRenew(this.key(name, 'holder'), `${token} ${owner}`, leaseMs)) === 1;
  }

  async drop(name: string, owner: string, token: FencingToken): Promise<boolean> {
    return (await this.commands.agoraLockDrop(this.key(name, 'holder'), `${token} ${owner}`)) === 1;
  }

  async close(): Promise<void> {
    if (!this.ownsConnection) return;
    try {
      await this.redis.quit();
    } catch {
      // QUIT fails when the connection is already down; drop the socket and stop reconnecting.
      this.redis.disconnect();
    }
  }

  private key(name: string, part: 'holder' | 'token'): string {
    return `${this.keyPrefix}:{${name}}:${part}`;
  }
}

/**
 * Connects a Redis lock manager and checks the server answers, so a process started against an
 * unreachable Redis stops with a clear error. Later outages fail acquire/extend/release calls
 * (after one reconnect attempt) while held leases run out on their own.
 */
export async function connectRedisLocks(options: RedisLocksOptions): Promise<LeaseLockManager> {
  const redis = new Redis(options.url, {
    lazyConnect: true,
    connectionName: options.name ?? 'agora-locks',
    connectTimeout: options.connectTimeoutMs ?? REDIS_LOCKS_DEFAULTS.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs ?? REDIS_LOCKS_DEFAULTS.commandTimeoutMs,
    // Every script is idempotent for its owner, so one retry after a reconnect is safe; more would
    // only queue attempts whose leases are already running out.
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 100, REDIS_LOCKS_DEFAULTS.maxReconnectDelayMs),
  });
  // ioredis emits 'error' on every failed reconnect attempt; unhandled, that would crash the process.
  redis.on('error', (err: Error) => options.logger.debug({ err }, 'locking: Redis connection error'));
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(`locking: Redis does not answer: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return new LeaseLockManager(new RedisLeaseStore(traceRedis(redis), options.keyPrefix, true), { logger: options.logger });
}
