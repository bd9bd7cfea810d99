import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SOURCE_NODE_ARGS } from '@agora/cli/launch';
import {
  InstanceWatcher,
  connectRedisRegistry,
  createLogger,
  type RedisRegistry,
  type ServiceInstance,
  type StateTransition,
} from '../src/index.js';
import { TEST_REDIS_URL, deleteRedisKeys, redisAvailable, uniqueRedisPrefix, freePort } from '../src/testing/index.js';

/**
 * Discovery on a real Redis, in real time: what the manual-clock suite cannot show — TTLs that
 * Redis enforces, pub/sub across connections, a process killed with SIGKILL, a Redis restart.
 * These tests wait for outcomes (`eventually`), they never assert how long something took.
 */
const logger = createLogger('discovery-redis-test', 'silent');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(25);
  }
}

function instance(id: string, overrides: Partial<ServiceInstance> = {}): ServiceInstance {
  return { id, service: 'cart', url: `http://${id}.cart.internal:4000`, weight: 10, zone: 'zone-a', version: '1.0.0', startedAt: new Date().toISOString(), ...overrides };
}

const ids = (watcher: InstanceWatcher) => watcher.instances().map((i) => i.id);

describe.runIf(await redisAvailable())('discovery on Redis', () => {
  const keyPrefix = uniqueRedisPrefix('agora_test_discovery');
  const opened: RedisRegistry[] = [];
  const watchers: InstanceWatcher[] = [];
  const children: ChildProcess[] = [];
  const connect = async () => {
    const registry = await connectRedisRegistry({ url: TEST_REDIS_URL, logger, keyPrefix });
    opened.push(registry);
    return registry;
  };

  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(watchers.splice(0).map((w) => w.close()));
    await Promise.all(opened.splice(0).map((r) => r.close()));
    await deleteRedisKeys(keyPrefix);
  });

  it('a watcher on one client follows instances registered on another: up, crashed, deregistered', async () => {
    const instances = await connect();
    const watcher = await InstanceWatcher.start({ registry: await connect(), service: 'cart', logger });
    watchers.push(watcher);
    const transitions: StateTransition[] = [];
    watcher.onTransition((t) => transitions.push(t));

    const a = await instances.register(instance('a'));
    const b = await instances.register(instance('b'));
    await eventually(() => ids(watcher).join() === 'a,b', 'both instances in view');
    a.stop();
    await eventually(() => ids(watcher).join() === 'b', 'the stopped instance leaves the view');
    expect(transitions.find((t) => t.id === 'a' && t.to === 'down')).toBeDefined();
    await b.deregister();
    await eventually(() => ids(watcher).length === 0, 'the deregistered instance leaves the view');
    expect(transitions.find((t) => t.id === 'b' && t.to === 'down')?.reason).toBe('deregistered');
  });

  it('an instance whose process is killed with SIGKILL is marked down and leaves the view', async () => {
    const watcher = await InstanceWatcher.start({ registry: await connect(), service: 'cart', logger });
    watchers.push(watcher);
    const transitions: StateTransition[] = [];
    watcher.onTransition((t) => transitions.push(t));
    // A real process that registers with the default timings (500 ms heartbeat, 1.5 s TTL) and
    // then just runs, like a service would, until it is killed.
    const discovery = fileURLToPath(new URL('../src/discovery/index.ts', import.meta.url));
    const telemetry = fileURLToPath(new URL('../src/telemetry/logger.ts', import.meta.url));
    const script = `
      const { connectRedisRegistry } = await import(${JSON.stringify(discovery)});
      const { createLogger } = await import(${JSON.stringify(telemetry)});
      const registry = await connectRedisRegistry({ url: ${JSON.stringify(TEST_REDIS_URL)}, logger: createLogger('child', 'silent'), keyPrefix: ${JSON.stringify(keyPrefix)} });
      await registry.register(${JSON.stringify(instance('doomed'))});
      console.log('registered');
    `;
    const child = spawn(process.execPath, [...SOURCE_NODE_ARGS, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await eventually(() => ids(watcher).includes('doomed'), 'the child process registered');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    await eventually(() => !ids(watcher).includes('doomed'), 'the killed instance leaves the view');
    const down = transitions.find((t) => t.id === 'doomed' && t.to === 'down')!;
    expect(['silence', 'expired']).toContain(down.reason);
    expect(down.silenceMs).toBeGreaterThan(0);
  });
});

/**
 * Redis itself killed and restarted under running registrations and a watcher: a private
 * redis-server (started and killed by this test only), without persistence, so it comes back empty.
 */
const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;


describe.runIf(hasRedisServer)('discovery across a Redis restart', () => {
  let port: number;
  let server: ChildProcess | undefined;
  const startServer = () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  };
  const killServer = async () => {
    const running = server;
    server = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };

  beforeAll(async () => {
    port = await freePort();
    startServer();
  });
  afterAll(async () => {
    await killServer();
  });

  it('keeps the last known view while Redis is down, and heartbeats re-create the records when it is back', async () => {
    const url = `redis://127.0.0.1:${port}`;
    let instances: RedisRegistry | undefined;
    await eventually(async () => {
      instances = await connectRedisRegistry({ url, logger }).catch(() => undefined);
      return instances !== undefined;
    }, 'the private Redis accepts connections');
    const clients = await connectRedisRegistry({ url, logger });
    const watcher = await InstanceWatcher.start({ registry: clients, service: 'cart', logger });
    try {
      await instances!.register(instance('a'));
      await instances!.register(instance('b'));
      await eventually(() => ids(watcher).join() === 'a,b', 'both instances in view');

      await killServer();
      await eventually(() => !watcher.registryReachable, 'the watcher notices Redis is gone');
      // Several TTLs without a single heartbeat arriving: the view must not empty.
      await sleep(3 * 1_500);
      expect(ids(watcher)).toEqual(['a', 'b']);

      startServer();
      await eventually(() => watcher.registryReachable, 'the watcher reaches Redis again', 30_000);
      // The restarted Redis is empty: the records are back only because heartbeats re-create them.
      await eventually(
        () => clients.list('cart').then(
          (records) => records.length === 2,
          () => false, // still reconnecting
        ),
        'heartbeats re-create both records',
        30_000,
      );
      await instances!.register(instance('c'));
      await eventually(() => ids(watcher).join() === 'a,b,c', 'a registration after the restart reaches the watcher', 30_000);
    } finally {
      await watcher.close();
      await Promise.all([instances?.close(), clients.close()]);
    }
  });
  it('a watcher whose process stalls while ioredis re-subscribes after a reconnect keeps running (no unhandled command timeout)', async () => {
    const url = `redis://127.0.0.1:${port}`;
    if (!server) startServer();
    const commandTimeoutMs = 200;
    let clients: RedisRegistry | undefined;
    await eventually(async () => {
      clients = await connectRedisRegistry({ url, logger, commandTimeoutMs }).catch(() => undefined);
      return clients !== undefined;
    }, 'the private Redis accepts connections');
    const watcher = await InstanceWatcher.start({ registry: clients!, service: 'cart', logger });
    // What a paused or CPU-starved process does: right after the reconnect's 'ready' (ioredis has
    // just sent its own SUBSCRIBE), the event loop is blocked longer than a command may take, so
    // timers run before the answer is read. With a command timeout on the subscriber connection
    // that SUBSCRIBE's promise rejects, and nobody holds it: Node would exit.
    const subscriber = (clients as unknown as { subscriber: { once(event: 'ready', listener: () => void): void } }).subscriber;
    let stalled = false;
    subscriber.once('ready', () =>
      setImmediate(() => {
        const until = Date.now() + 3 * commandTimeoutMs;
        while (Date.now() < until) {
          // blocked, as a stopped process is
        }
        stalled = true;
      }),
    );
    try {
      await killServer();
      startServer();
      await eventually(() => stalled, 'the watcher reconnected and stalled while re-subscribing', 30_000);
      // Registered as a heartbeat does, again until it lands: right after the restart a command may
      // still meet the 200 ms timeout on a busy machine (a transient fault, not the point here).
      await eventually(
        async () => {
          await clients!.register(instance('z')).catch(() => undefined);
          return ids(watcher).includes('z');
        },
        'a registration after the stall reaches the watcher',
        30_000,
      );
    } finally {
      await watcher.close();
      await clients?.close();
    }
  });
});
