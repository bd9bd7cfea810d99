import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InMemoryRegistry,
  InvalidInstanceError,
  ManualScheduler,
  connectRedisRegistry,
  createLogger,
  type InstanceRecord,
  type Registry,
  type RegistryEvent,
  type ServiceInstance,
} from '../src/index.js';
import { TEST_REDIS_URL, deleteRedisKeys, redisAvailable, uniqueRedisPrefix } from '../src/testing/index.js';

const logger = createLogger('discovery-test', 'silent');

interface OpenedRegistry {
  registry: Registry;
  /** Another client of the same registry: the same object in memory, a second connection on Redis. */
  another(): Promise<Registry>;
  /** Lets time pass: instantly on the manual clock in memory, really on Redis (its TTLs are real). */
  elapse(ms: number): Promise<void>;
  release(): Promise<void>;
}

interface RegistryAdapter {
  name: string;
  available(): Promise<boolean>;
  open(): Promise<OpenedRegistry>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const adapters: RegistryAdapter[] = [
  {
    name: 'in-memory',
    available: async () => true,
    async open() {
      const scheduler = new ManualScheduler();
      const registry = new InMemoryRegistry({ clock: scheduler.clock, scheduler, logger });
      return { registry, another: async () => registry, elapse: (ms) => scheduler.advance(ms), release: () => registry.close() };
    },
  },
  {
    name: 'redis',
    available: redisAvailable,
    async open() {
      const keyPrefix = uniqueRedisPrefix('agora_test_discovery');
      const connect = () => connectRedisRegistry({ url: TEST_REDIS_URL, logger, keyPrefix });
      const registry = await connect();
      const others: Registry[] = [];
      return {
        registry,
        async another() {
          const other = await connect();
          others.push(other);
          return other;
        },
        elapse: sleep,
        async release() {
          await Promise.all([registry, ...others].map((r) => r.close()));
          await deleteRedisKeys(keyPrefix);
        },
      };
    },
  },
];

let port = 4100;
function instance(service: string, id: string, overrides: Partial<ServiceInstance> = {}): ServiceInstance {
  return { id, service, url: `http://127.0.0.1:${port++}`, weight: 10, zone: 'zone-a', version: '1.0.0', startedAt: '2026-01-01T00:00:00.000Z', ...overrides };
}

/** Short timings so the Redis run takes a second or two; the in-memory run takes no real time at all. */
const FAST = { ttlMs: 600, heartbeatIntervalMs: 150 } as const;
/** Long enough that nothing expires during a test that does not wait for it. */
const SLOW = { ttlMs: 60_000, heartbeatIntervalMs: 20_000 } as const;

/** Lets time pass in steps until `check` holds; fails after `budgetMs` of (manual or real) time. */
async function until(opened: OpenedRegistry, check: () => boolean | Promise<boolean>, what: string, budgetMs = 8_000, stepMs = 25): Promise<void> {
  for (let spent = 0; ; spent += stepMs) {
    if (await check()) return;
    if (spent >= budgetMs) throw new Error(`not within ${budgetMs} ms: ${what}`);
    await opened.elapse(stepMs);
  }
}

const find = (records: InstanceRecord[], id: string) => records.find((r) => r.instance.id === id);

/** The registry port's contract: both adapters pass the same suite. */
for (const adapter of adapters) {
  describe.runIf(await adapter.available())(`discovery registry contract on ${adapter.name}`, () => {
    let opened: OpenedRegistry;
    let registry: Registry;

    beforeEach(async () => {
      opened = await adapter.open();
      registry = opened.registry;
    });
    afterEach(async () => {
      await opened.release();
    });

    it('lists a registered instance as soon as register resolves: its fields, state up, heartbeat 1', async () => {
      const a = instance('catalog', 'cat-1', { metadata: { build: '42' } });
      const registration = await registry.register(a, SLOW);
      expect(registration.heartbeats).toBe(1);
      const [record, ...rest] = await registry.list('catalog');
      expect(rest).toEqual([]);
      expect(record?.instance).toEqual(a);
      expect(record?.state).toBe('up');
      expect(record?.heartbeat).toBe(1);
      expect(record?.draining).toBe(false);
      expect(record?.ttlMs).toBe(SLOW.ttlMs);
      expect(record?.heartbeatIntervalMs).toBe(SLOW.heartbeatIntervalMs);
      expect(Number.isNaN(Date.parse(record!.lastHeartbeatAt))).toBe(false);
    });

    it('lists only the asked service, sorted by id, and nothing for an unknown one', async () => {
      await registry.register(instance('cart', 'cart-b'), SLOW);
      await registry.register(instance('cart', 'cart-a'), SLOW);
      await registry.register(instance('order', 'order-a'), SLOW);
      expect((await registry.list('cart')).map((r) => r.instance.id)).toEqual(['cart-a', 'cart-b']);
      expect((await registry.list('order')).map((r) => r.instance.id)).toEqual(['order-a']);
      expect(await registry.list('payment')).toEqual([]);
    });

    it('a heartbeat raises the counter and refreshes lastHeartbeatAt', async () => {
      const registration = await registry.register(instance('cart', 'cart-1'), SLOW);
      const first = find(await registry.list('cart'), 'cart-1')!;
      await opened.elapse(5);
      await registration.heartbeat();
      await registration.heartbeat();
      const later = find(await registry.list('cart'), 'cart-1')!;
      expect(later.heartbeat).toBe(3);
      expect(registration.heartbeats).toBe(3);
      expect(Date.parse(later.lastHeartbeatAt)).toBeGreaterThan(Date.parse(first.lastHeartbeatAt));
    });

    it('heartbeats on its own timer, every ttl/3 by default', async () => {
      const registration = await registry.register(instance('cart', 'cart-1'), { ttlMs: FAST.ttlMs });
      expect(registration.heartbeatIntervalMs).toBe(200);
      await until(opened, async () => (find(await registry.list('cart'), 'cart-1')?.heartbeat ?? 0) >= 3, 'two timer heartbeats');
      // Kept alive well past its TTL by the timer alone.
      await opened.elapse(FAST.ttlMs * 2);
      expect(find(await registry.list('cart'), 'cart-1')).toBeDefined();
      registration.stop();
    });

    it('a stopped instance — what a crash looks like — is listed until its TTL runs out, then is gone', async () => {
      const registration = await registry.register(instance('cart', 'cart-1'), FAST);
      await registry.register(instance('cart', 'cart-2'), FAST);
      registration.stop();
      expect(find(await registry.list('cart'), 'cart-1')).toBeDefined();
      await until(opened, async () => find(await registry.list('cart'), 'cart-1') === undefined, 'the stopped instance expires');
      expect(find(await registry.list('cart'), 'cart-2')).toBeDefined();
    });

    it('a heartbeat after expiry puts the whole record back (a paused process that resumes)', async () => {
      const registration = await registry.register(instance('cart', 'cart-1'), FAST);
      registration.stop();
      await until(opened, async () => (await registry.list('cart')).length === 0, 'expiry');
      await registration.heartbeat();
      const record = find(await registry.list('cart'), 'cart-1');
      expect(record?.instance.url).toBe(registration.instance.url);
      expect(record?.heartbeat).toBe(registration.heartbeats);
    });

    it('deregister removes the record at once and tells watchers, with the last record', async () => {
      const watcherClient = await opened.another();
      const events: RegistryEvent[] = [];
      await watcherClient.watch('cart', (event) => events.push(event));
      const registration = await registry.register(instance('cart', 'cart-1'), SLOW);
      await registration.deregister();
      expect(await registry.list('cart')).toEqual([]);
      await until(opened, () => events.some((e) => e.type === 'deregistered'), 'the deregistered event');
      const event = events.find((e) => e.type === 'deregistered')!;
      expect(event.id).toBe('cart-1');
      expect(event.service).toBe('cart');
      expect(event.record.heartbeat).toBe(registration.heartbeats);
      await expect(registration.heartbeat()).rejects.toThrow(/deregistered/);
    });

    it('draining shows in the list and in an event; undraining returns the instance to up', async () => {
      const events: RegistryEvent[] = [];
      await registry.watch('cart', (event) => events.push(event));
      const registration = await registry.register(instance('cart', 'cart-1'), SLOW);
      await registration.setDraining();
      expect(find(await registry.list('cart'), 'cart-1')?.state).toBe('draining');
      await until(opened, () => events.some((e) => e.type === 'draining' && e.record.draining), 'the draining event');
      await registration.setDraining(false);
      expect(find(await registry.list('cart'), 'cart-1')?.state).toBe('up');
    });

    it('watchers see registrations and heartbeats of their service only, from any client, until they unsubscribe', async () => {
      const other = await opened.another();
      const cartEvents: RegistryEvent[] = [];
      const orderEvents: RegistryEvent[] = [];
      const stopCart = await other.watch('cart', (event) => cartEvents.push(event));
      await other.watch('order', (event) => orderEvents.push(event));
      const registration = await registry.register(instance('cart', 'cart-1'), SLOW);
      await registration.heartbeat();
      await until(opened, () => cartEvents.length >= 2, 'two cart events');
      expect(cartEvents.map((e) => [e.type, e.id, e.record.heartbeat])).toEqual([
        ['registered', 'cart-1', 1],
        ['heartbeat', 'cart-1', 2],
      ]);
      expect(orderEvents).toEqual([]);
      await stopCart();
      await registration.heartbeat();
      await registry.register(instance('order', 'order-1'), SLOW);
      await until(opened, () => orderEvents.length >= 1, 'the order event');
      expect(cartEvents).toHaveLength(2);
    });

    it('two watches of one service started together both receive events', async () => {
      const first: RegistryEvent[] = [];
      const second: RegistryEvent[] = [];
      await Promise.all([registry.watch('cart', (e) => first.push(e)), registry.watch('cart', (e) => second.push(e))]);
      await (await opened.another()).register(instance('cart', 'cart-1'), SLOW);
      await until(opened, () => first.length === 1 && second.length === 1, 'both watches see the registration');
    });

    it('a second client lists what the first registered', async () => {
      const other = await opened.another();
      await registry.register(instance('cart', 'cart-1'), SLOW);
      expect((await other.list('cart')).map((r) => r.instance.id)).toEqual(['cart-1']);
    });

    it('a new incarnation under the same id replaces the old record', async () => {
      const old = await registry.register(instance('cart', 'cart-1', { startedAt: '2026-01-01T00:00:00.000Z' }), SLOW);
      old.stop();
      await registry.register(instance('cart', 'cart-1', { startedAt: '2026-01-01T00:05:00.000Z', version: '1.1.0' }), SLOW);
      const records = await registry.list('cart');
      expect(records).toHaveLength(1);
      expect(records[0]?.instance.version).toBe('1.1.0');
      expect(records[0]?.heartbeat).toBe(1);
    });

    it('close stops heartbeats: the instances of a closed client expire', async () => {
      const other = await opened.another();
      if (other === registry) return; // in memory there is one registry: closing it ends the test's too
      await other.register(instance('cart', 'cart-1'), FAST);
      await other.close();
      await until(opened, async () => (await registry.list('cart')).length === 0, 'expiry after close');
    });

    it('refuses invalid instances and timings, naming the problem', async () => {
      await expect(registry.register(instance('cart', 'c', { weight: 0 }))).rejects.toThrow(InvalidInstanceError);
      await expect(registry.register(instance('cart', 'c', { weight: 101 }))).rejects.toThrow(/weight/);
      await expect(registry.register(instance('cart', 'c', { weight: 1.5 }))).rejects.toThrow(/weight/);
      await expect(registry.register(instance('ca:rt', 'c'))).rejects.toThrow(/service name/);
      await expect(registry.register(instance('cart', 'c:1'))).rejects.toThrow(/instance id/);
      await expect(registry.register(instance('cart', 'c', { url: 'ftp://x' }))).rejects.toThrow(/http/);
      await expect(registry.register(instance('cart', 'c', { startedAt: 'yesterday' }))).rejects.toThrow(/startedAt/);
      await expect(registry.register(instance('cart', 'c'), { ttlMs: 1_000, heartbeatIntervalMs: 600 })).rejects.toThrow(/twice/);
      await expect(registry.list('no:colons')).rejects.toThrow(InvalidInstanceError);
      expect(await registry.list('cart')).toEqual([]);
    });
  });
}
