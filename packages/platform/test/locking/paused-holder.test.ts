import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SOURCE_NODE_ARGS } from '@agora/cli/launch';
import { LockUnavailableError, PostgresStorage, connectRedisLocks, fenceToken, type LeaseLockManager } from '../../src/index.js';
import { TEST_REDIS_URL, createTestDatabase, deleteRedisKeys, postgresBackend, redisAvailable, uniqueRedisPrefix } from '../../src/testing/index.js';
import { createLockingSchema, createShardMap, logger, readShardMap, writeShardMap } from './support.js';

const CHILD = fileURLToPath(new URL('./paused-holder.child.ts', import.meta.url));
const LOCK = 'shard-move';
const RESOURCE = 'shard-map';
/** Long enough for a renewal round trip on a loaded machine; short enough to wait out twice. */
const LEASE_MS = 1_000;
/** tsx compiling the child on a busy machine. */
const CHILD_EVENT_TIMEOUT_MS = 45_000;
/** How long a SIGSTOP may take to land. */
const SIGNAL_DELIVERY_MS = 2_000;
const TEST_TIMEOUT_MS = 2 * CHILD_EVENT_TIMEOUT_MS;

interface ChildEvent {
  event: string;
  [field: string]: string;
}

/** The child's JSON lines as they arrive, with a wait for the next one of a kind. */
class HolderProcess {
  readonly events: ChildEvent[] = [];
  private output = '';
  private waiters: (() => void)[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
      partial += chunk.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('{')) this.events.push(JSON.parse(line) as ChildEvent);
      for (const wake of this.waiters.splice(0)) wake();
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  async next(event: string): Promise<ChildEvent> {
    const deadline = Date.now() + CHILD_EVENT_TIMEOUT_MS;
    for (;;) {
      const found = this.events.find((e) => e.event === event);
      if (found) return found;
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`paused holder never reported "${event}":\n${this.output}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /** The state letter of /proc/<pid>/stat: `T` is stopped by a signal. */
  state(): string {
    const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  }

  /** Signals are delivered asynchronously: waits (bounded) until the process is in `state`. */
  async reach(state: string): Promise<void> {
    for (let waited = 0; this.state() !== state; waited += 10) {
      if (waited >= SIGNAL_DELIVERY_MS) throw new Error(`paused holder is in state ${this.state()}, not ${state}, ${SIGNAL_DELIVERY_MS} ms after the signal`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  describe(): string {
    return this.output;
  }
}

const available = (await redisAvailable()) && (await postgresBackend.available());

describe.runIf(available)('a holder paused past its lease (SIGSTOP) cannot write after it resumes', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let storage: PostgresStorage;
  let locks: LeaseLockManager;
  let keyPrefix: string;
  let holder: HolderProcess | undefined;

  beforeEach(async () => {
    database = await createTestDatabase('agora_test_paused');
    storage = new PostgresStorage({ url: database.url, poolMax: 2 });
    keyPrefix = uniqueRedisPrefix('agora_test_paused');
    locks = await connectRedisLocks({ url: TEST_REDIS_URL, keyPrefix, logger });
  });
  afterEach(async () => {
    if (holder && holder.child.exitCode === null && holder.child.signalCode === null) holder.child.kill('SIGKILL');
    await holder?.exited;
    await locks.close();
    await storage.close();
    await database.drop();
    await deleteRedisKeys(keyPrefix);
  });

  it('the new holder has a higher token, the resumed holder\'s fenced write is refused, and the new holder\'s state stands', async () => {
    const schema = await createLockingSchema(storage);
    await createShardMap(storage, schema);
    const child = spawn(process.execPath, [...SOURCE_NODE_ARGS, CHILD], {
      env: {
        ...process.env,
        LOCK_TEST_SCHEMA: schema,
        LOCK_TEST_RESOURCE: RESOURCE,
        LOCK_TEST_DATABASE_URL: database.url,
        LOCK_TEST_REDIS_URL: TEST_REDIS_URL,
        LOCK_TEST_KEY_PREFIX: keyPrefix,
        LOCK_TEST_NAME: LOCK,
        LOCK_TEST_LEASE_MS: String(LEASE_MS),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    holder = new HolderProcess(child);
    const childToken = BigInt((await holder.next('holding')).token!);

    // Running, the child renews its lease: waiting two leases gets nobody the lock. So what
    // expires it below is the pause, not a forgotten renewal.
    await expect(locks.acquire(LOCK, { leaseMs: LEASE_MS, waitMs: LEASE_MS * 2 })).rejects.toBeInstanceOf(LockUnavailableError);

    child.kill('SIGSTOP');
    await holder.reach('T');
    const lock = await locks.acquire(LOCK, { leaseMs: LEASE_MS * 20, waitMs: LEASE_MS * 4 });
    expect(lock.token).toBeGreaterThan(childToken);
    await writeShardMap(storage, schema, RESOURCE, lock.token, 'new holder');
    expect(holder.state()).toBe('T');

    // The child resumes straight into its write, holding the token it had before the pause.
    child.stdin?.end('write\n');
    child.kill('SIGCONT');
    const refused = await holder.next('refused');
    expect(refused).toEqual({ event: 'refused', token: String(childToken), highest: String(lock.token) });
    expect(holder.events.some((e) => e.event === 'wrote')).toBe(false);
    // It also learns, once running again, that it lost the lock.
    expect(['expired', 'superseded']).toContain((await holder.next('lost')).reason);
    expect(await holder.exited, holder.describe()).toEqual({ code: 0, signal: null });

    expect(await readShardMap(storage, schema, RESOURCE)).toEqual({ owner: 'new holder', token: String(lock.token) });
    expect(await fenceToken(storage, schema, RESOURCE)).toBe(lock.token);
    // The resumed child's release (in withLock) did not free the new holder's lease.
    expect(lock.isHeld()).toBe(true);
    await lock.extend();
    const other = await connectRedisLocks({ url: TEST_REDIS_URL, keyPrefix, logger });
    expect(await other.tryAcquire(LOCK, { leaseMs: LEASE_MS })).toBeUndefined();
    await other.close();
  }, TEST_TIMEOUT_MS);
});
