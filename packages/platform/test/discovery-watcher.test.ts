import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ManualClock } from '@agora/kernel';
import {
  FailureDetector,
  InMemoryRegistry,
  InstanceWatcher,
  ManualScheduler,
  createBalancer,
  createLogger,
  parseDiscoveryConfig,
  type InstanceListPort,
  type Registration,
  type Registry,
  type RegistryListener,
  type ServiceInstance,
  type StateTransition,
  type StoredRecord,
} from '../src/index.js';

const logger = createLogger('discovery-watcher-test', 'silent');

function instance(id: string, overrides: Partial<ServiceInstance> = {}): ServiceInstance {
  return { id, service: 'cart', url: `http://${id}.cart.internal:4000`, weight: 10, zone: 'zone-a', version: '1.0.0', startedAt: '2026-01-01T00:00:00.000Z', ...overrides };
}

function latch(): { wait: Promise<void>; open(): void } {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/**
 * A registry between the watcher and the real one, to stage what the network does: pub/sub
 * messages lost, the registry unreachable, a list whose answer arrives late.
 */
class StagedRegistry implements Registry {
  dropEvents = false;
  failLists = false;
  /** While set, list() takes its snapshot at once but answers only when the latch opens. */
  slowList: Promise<void> | undefined;

  constructor(private readonly inner: Registry) {}

  register: Registry['register'] = (instance, options) => this.inner.register(instance, options);

  async list(service: string) {
    if (this.failLists) throw new Error('registry unreachable (staged)');
    const snapshot = await this.inner.list(service);
    if (this.slowList) await this.slowList;
    return snapshot;
  }

  watch(service: string, listener: RegistryListener) {
    return this.inner.watch(service, (event) => {
      if (!this.dropEvents) listener(event);
    });
  }

  isConnected() {
    return !this.failLists && this.inner.isConnected();
  }

  close() {
    return this.inner.close();
  }
}

interface World {
  scheduler: ManualScheduler;
  registry: InMemoryRegistry;
  staged: StagedRegistry;
  watcher: InstanceWatcher;
  transitions: StateTransition[];
}

const worlds: World[] = [];
afterEach(async () => {
  for (const world of worlds.splice(0)) {
    await world.watcher.close();
    await world.registry.close();
  }
});

/** Registry, staging and watcher on one manual clock, with the default timings (500 ms / 1.5 s / 1 s / 250 ms). */
async function world(): Promise<World> {
  const scheduler = new ManualScheduler();
  const registry = new InMemoryRegistry({ clock: scheduler.clock, scheduler, logger });
  const staged = new StagedRegistry(registry);
  const watcher = await InstanceWatcher.start({ registry: staged, service: 'cart', clock: scheduler.clock, scheduler, logger });
  const transitions: StateTransition[] = [];
  watcher.onTransition((t) => transitions.push(t));
  const w: World = { scheduler, registry, staged, watcher, transitions };
  worlds.push(w);
  return w;
}

const ids = (watcher: InstanceWatcher) => watcher.instances().map((i) => i.id);
const stateOf = (watcher: InstanceWatcher, id: string) => watcher.states().find((s) => s.instance.id === id)?.state;

describe('InstanceWatcher', () => {
  it('starts from the registry list and follows registrations and deregistrations as they are published', async () => {
    const w = await world();
    await w.registry.register(instance('c1'));
    const late = await InstanceWatcher.start({ registry: w.registry, service: 'cart', clock: w.scheduler.clock, scheduler: w.scheduler, logger });
    expect(ids(late)).toEqual(['c1']);
    await late.close();

    const c2 = await w.registry.register(instance('c2'));
    await w.scheduler.flush();
    // No re-list has run yet (manual time has not moved): the events did this.
    expect(ids(w.watcher)).toEqual(['c1', 'c2']);
    await c2.deregister();
    await w.scheduler.flush();
    expect(ids(w.watcher)).toEqual(['c1']);
    expect(w.transitions.at(-1)).toMatchObject({ id: 'c2', to: 'down', reason: 'deregistered' });
    expect(stateOf(w.watcher, 'c2')).toBeUndefined();
  });

  it('a crashed instance turns suspect after 1.5 heartbeats of silence and down after a TTL, then leaves the list', async () => {
    const w = await world();
    const crashed = await w.registry.register(instance('c1'));
    await w.registry.register(instance('c2'));
    await w.scheduler.advance(2_000);
    expect(ids(w.watcher)).toEqual(['c1', 'c2']);
    crashed.stop(); // the SIGKILL: no goodbye, the timer just stops
    const crashedAt = w.scheduler.clock.now().getTime();

    await w.scheduler.advance(700);
    expect(stateOf(w.watcher, 'c1')).toBe('up');
    await w.scheduler.advance(300);
    expect(stateOf(w.watcher, 'c1')).toBe('suspect');
    expect(ids(w.watcher)).toEqual(['c1', 'c2']); // a late heartbeat is not yet a dead instance
    await w.scheduler.advance(500);
    expect(stateOf(w.watcher, 'c1')).toBe('down');
    expect(ids(w.watcher)).toEqual(['c2']);

    const down = w.transitions.find((t) => t.id === 'c1' && t.to === 'down')!;
    expect(down.reason).toBe('silence');
    expect(down.silenceMs).toBe(1_500);
    expect(down.at.getTime() - crashedAt).toBeLessThanOrEqual(3_000);
    // Its record expires too, and the next re-list drops it entirely.
    await w.scheduler.advance(1_000);
    expect(stateOf(w.watcher, 'c1')).toBeUndefined();
    expect(stateOf(w.watcher, 'c2')).toBe('up');
  });

  it('detects a crash within 3 s whatever its timing, with or without pub/sub (the cluster target, in manual time)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2_000 }), fc.boolean(), async (crashAfterMs, lossy) => {
        const w = await world();
        w.staged.dropEvents = lossy;
        const victim = await w.registry.register(instance('victim'));
        await w.registry.register(instance('other'));
        await w.scheduler.advance(1_000 + crashAfterMs);
        // Without pub/sub, heartbeats are seen only once per re-list, so `suspect` is normal here.
        expect(ids(w.watcher)).toEqual(['other', 'victim']);
        victim.stop();
        const crashedAt = w.scheduler.clock.now().getTime();
        await w.scheduler.advance(3_000);
        const down = w.transitions.find((t) => t.id === 'victim' && t.to === 'down');
        expect(down).toBeDefined();
        expect(down!.at.getTime() - crashedAt).toBeLessThanOrEqual(3_000);
        expect(ids(w.watcher)).toEqual(['other']);
        await w.watcher.close();
        await w.registry.close();
      }),
      { seed: 42, numRuns: 40 },
    );
  });

  it('when pub/sub loses messages the periodic re-list still brings every change in', async () => {
    const w = await world();
    w.staged.dropEvents = true;
    const c1 = await w.registry.register(instance('c1'));
    await w.scheduler.flush();
    expect(ids(w.watcher)).toEqual([]);
    await w.scheduler.advance(1_000);
    expect(ids(w.watcher)).toEqual(['c1']);
    await c1.deregister();
    await w.scheduler.advance(1_000);
    expect(ids(w.watcher)).toEqual([]);
    expect(w.transitions.at(-1)).toMatchObject({ id: 'c1', to: 'down', reason: 'expired' });
  });

  it('keeps the last known view while the registry is unreachable, then catches up', async () => {
    const w = await world();
    await w.registry.register(instance('c1'));
    const c2 = await w.registry.register(instance('c2'));
    await w.scheduler.advance(1_000);
    const view = w.watcher.instances();

    w.staged.failLists = true;
    w.staged.dropEvents = true;
    c2.stop(); // dies during the outage: nobody can know yet
    await w.scheduler.advance(10_000);
    expect(w.watcher.registryReachable).toBe(false);
    expect(ids(w.watcher)).toEqual(['c1', 'c2']);
    expect(w.transitions.filter((t) => t.to === 'down')).toEqual([]);
    expect(view.map((v) => v.id)).toEqual(['c1', 'c2']);

    w.staged.failLists = false;
    w.staged.dropEvents = false;
    await w.scheduler.advance(1_000);
    expect(w.watcher.registryReachable).toBe(true);
    expect(ids(w.watcher)).toEqual(['c1']);
    expect(w.transitions.find((t) => t.id === 'c2' && t.to === 'down')?.reason).toBe('expired');
    // c1 kept heartbeating throughout and stays up after the restart of the clocks.
    await w.scheduler.advance(3_000);
    expect(stateOf(w.watcher, 'c1')).toBe('up');
  });

  it('a re-list that hangs (a half-open connection) also stops silence from counting as death', async () => {
    const w = await world();
    await w.registry.register(instance('c1'));
    await w.scheduler.advance(1_000);
    const gate = latch();
    w.staged.slowList = gate.wait;
    w.staged.dropEvents = true;
    await w.scheduler.advance(10_000);
    expect(w.watcher.registryReachable).toBe(false);
    expect(ids(w.watcher)).toEqual(['c1']);
    w.staged.slowList = undefined;
    w.staged.dropEvents = false;
    gate.open();
    await w.scheduler.advance(1_000);
    expect(w.watcher.registryReachable).toBe(true);
    expect(stateOf(w.watcher, 'c1')).toBe('up');
  });

  it('a draining instance leaves the usable list but stays visible in states(); undraining brings it back', async () => {
    const w = await world();
    const c1 = await w.registry.register(instance('c1'));
    await w.registry.register(instance('c2'));
    await c1.setDraining();
    await w.scheduler.flush();
    expect(ids(w.watcher)).toEqual(['c2']);
    expect(stateOf(w.watcher, 'c1')).toBe('draining');
    await w.scheduler.advance(5_000);
    expect(stateOf(w.watcher, 'c1')).toBe('draining');
    await c1.setDraining(false);
    await w.scheduler.flush();
    expect(ids(w.watcher)).toEqual(['c1', 'c2']);
  });

  it('a re-list that started before a registration does not drop the newcomer', async () => {
    const w = await world();
    const gate = latch();
    w.staged.slowList = gate.wait;
    const relisting = w.watcher.relist(); // snapshot taken now, without c9
    await w.scheduler.flush();
    await w.registry.register(instance('c9'));
    await w.scheduler.flush();
    expect(ids(w.watcher)).toEqual(['c9']);
    gate.open();
    w.staged.slowList = undefined;
    expect(await relisting).toBe(true);
    expect(ids(w.watcher)).toEqual(['c9']);
    expect(w.transitions.filter((t) => t.to === 'down')).toEqual([]);
  });

  it('a re-list that started before a deregistration does not bring the instance back; a new incarnation is welcome', async () => {
    const w = await world();
    const c1 = await w.registry.register(instance('c1'));
    await w.scheduler.flush();
    const gate = latch();
    w.staged.slowList = gate.wait;
    const relisting = w.watcher.relist(); // snapshot still has c1
    await w.scheduler.flush();
    await c1.deregister();
    await w.scheduler.flush();
    gate.open();
    w.staged.slowList = undefined;
    await relisting;
    expect(ids(w.watcher)).toEqual([]);
    await w.registry.register(instance('c1', { startedAt: '2026-01-01T00:01:00.000Z' }));
    await w.scheduler.flush();
    expect(ids(w.watcher)).toEqual(['c1']);
  });

  it('hands out the same frozen array until something changes, and tells listeners only of real changes', async () => {
    const w = await world();
    await w.registry.register(instance('c1'));
    await w.scheduler.flush();
    const changes: (readonly string[])[] = [];
    w.watcher.onChange((list) => changes.push(list.map((i) => `${i.id}:${i.state}`)));
    const before = w.watcher.instances();
    expect(Object.isFrozen(before)).toBe(true);
    await w.scheduler.advance(5_000); // ten heartbeats, five re-lists: nothing changed
    expect(w.watcher.instances()).toBe(before);
    expect(changes).toEqual([]);
    await w.registry.register(instance('c2'));
    await w.scheduler.flush();
    expect(changes).toEqual([['c1:up', 'c2:up']]);
  });

  it('feeds a balancer: a crashed instance stops being picked once detected', async () => {
    const w = await world();
    const registrations: Registration[] = [];
    for (const id of ['c1', 'c2', 'c3']) registrations.push(await w.registry.register(instance(id)));
    await w.scheduler.flush();
    const balancer = createBalancer('round-robin');
    const port: InstanceListPort = w.watcher; // what the HTTP transport's endpoint source consumes
    expect(port.instances()).toHaveLength(3);
    const picked = new Set(Array.from({ length: 30 }, () => balancer.pick(w.watcher.instances())!.url));
    expect(picked.size).toBe(3);
    registrations[1]!.stop();
    await w.scheduler.advance(2_000);
    for (let i = 0; i < 30; i++) expect(balancer.pick(w.watcher.instances())!.id).not.toBe('c2');
  });

  it('fails to start when the registry cannot be listed, and unsubscribes on close', async () => {
    const scheduler = new ManualScheduler();
    const registry = new InMemoryRegistry({ clock: scheduler.clock, scheduler, logger });
    const staged = new StagedRegistry(registry);
    staged.failLists = true;
    await expect(InstanceWatcher.start({ registry: staged, service: 'cart', clock: scheduler.clock, scheduler, logger })).rejects.toThrow(/unreachable/);
    expect(scheduler.pending).toBe(0);
    staged.failLists = false;
    const watcher = await InstanceWatcher.start({ registry: staged, service: 'cart', clock: scheduler.clock, scheduler, logger });
    await watcher.close();
    expect(scheduler.pending).toBe(0);
    await registry.register(instance('c1'));
    await scheduler.flush();
    expect(watcher.instances()).toEqual([]);
    await registry.close();
  });
});

describe('FailureDetector', () => {
  const record = (heartbeat: number, overrides: Partial<StoredRecord> = {}): StoredRecord => ({
    instance: instance('c1'),
    lastHeartbeatAt: '2026-01-01T00:00:00.000Z',
    heartbeat,
    draining: false,
    heartbeatIntervalMs: 500,
    ttlMs: 1_500,
    ...overrides,
  });

  it('ignores a record older than the one it knows (a re-list overtaken by a message)', () => {
    const clock = new ManualClock();
    const detector = new FailureDetector('cart', clock);
    expect(detector.observe(record(5))).toBe(true);
    clock.advance(1_000);
    expect(detector.observe(record(3))).toBe(false);
    expect(detector.observe(record(5))).toBe(false);
    detector.evaluate();
    expect(detector.state('c1')).toBe('suspect');
    expect(detector.record('c1')?.heartbeat).toBe(5);
  });

  it('times heartbeats by its own clock, so a writer whose clock is an hour off is still up', () => {
    const clock = new ManualClock(new Date('2026-01-01T12:00:00Z'));
    const detector = new FailureDetector('cart', clock);
    for (let beat = 1; beat <= 5; beat++) {
      detector.observe(record(beat, { lastHeartbeatAt: '2026-01-01T11:00:00.000Z' }));
      clock.advance(500);
      detector.evaluate();
      expect(detector.state('c1')).toBe('up');
    }
  });

  it('concludes nothing from silence while held, and restarts the clocks on resume', () => {
    const clock = new ManualClock();
    const detector = new FailureDetector('cart', clock);
    detector.observe(record(1));
    detector.hold();
    clock.advance(60_000);
    detector.evaluate();
    expect(detector.state('c1')).toBe('suspect');
    detector.resume();
    expect(detector.state('c1')).toBe('up');
    clock.advance(1_500);
    detector.evaluate();
    expect(detector.state('c1')).toBe('down');
  });

  it('a draining instance that falls silent is down; a heartbeat brings a down instance back up', () => {
    const clock = new ManualClock();
    const detector = new FailureDetector('cart', clock);
    const seen: string[] = [];
    detector.onTransition((t) => seen.push(`${t.from ?? '-'}>${t.to}:${t.reason}`));
    detector.observe(record(1));
    detector.observe(record(2, { draining: true }));
    clock.advance(1_500);
    detector.evaluate();
    detector.observe(record(3));
    detector.forget('c1', 'expired');
    expect(seen).toEqual(['->up:discovered', 'up>draining:draining', 'draining>down:silence', 'down>up:draining', 'up>down:expired']);
  });

  it('a new incarnation (later startedAt) counts even with a lower counter', () => {
    const clock = new ManualClock();
    const detector = new FailureDetector('cart', clock);
    detector.observe(record(40));
    expect(detector.observe(record(1, { instance: instance('c1', { startedAt: '2026-01-01T00:10:00.000Z' }) }))).toBe(true);
  });
});

describe('discovery config', () => {
  it('defaults to a 500 ms heartbeat, 1.5 s TTL and 1 s re-list', () => {
    expect(parseDiscoveryConfig({})).toEqual({ ttlMs: 1_500, heartbeatIntervalMs: 500, relistIntervalMs: 1_000 });
    expect(parseDiscoveryConfig({ AGORA_DISCOVERY_TTL_MS: '3000' })).toEqual({ ttlMs: 3_000, heartbeatIntervalMs: 1_000, relistIntervalMs: 1_000 });
  });

  it('refuses a TTL shorter than two heartbeats or a re-list as long as the TTL, naming the variable', () => {
    expect(() => parseDiscoveryConfig({ AGORA_DISCOVERY_TTL_MS: '1000', AGORA_DISCOVERY_HEARTBEAT_MS: '600' })).toThrow(/AGORA_DISCOVERY_TTL_MS/);
    expect(() => parseDiscoveryConfig({ AGORA_DISCOVERY_HEARTBEAT_MS: 'fast' })).toThrow(/AGORA_DISCOVERY_HEARTBEAT_MS/);
    expect(() => parseDiscoveryConfig({ AGORA_DISCOVERY_RELIST_MS: '1500' })).toThrow(/AGORA_DISCOVERY_RELIST_MS/);
  });
});
