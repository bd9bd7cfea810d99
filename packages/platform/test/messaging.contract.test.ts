import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { events } from '@agora/contracts';
import { InMemoryEventBus, connectNatsEventBus, createLogger, filterSubjectFor, type EventBus, type Subscription } from '../src/index.js';
import { TEST_NATS_URL, deleteNatsStream, natsAvailable, uniqueNatsNames } from '../src/testing/index.js';
import { Received, eventually, latch, makeEvent, sleep } from './messaging-helpers.js';

type EventEnvelope = events.EventEnvelope;
type TestBus = EventBus & { deadLetterCount(): number };

const logger = createLogger('messaging-test', 'silent');

interface OpenedBus {
  bus: TestBus;
  /** Another client of the same bus: the same instance in memory, a second connection on NATS. */
  another(): Promise<TestBus>;
  release(): Promise<void>;
}

interface BusAdapter {
  name: string;
  available(): Promise<boolean>;
  open(): Promise<OpenedBus>;
}

const adapters: BusAdapter[] = [
  {
    name: 'in-memory',
    available: async () => true,
    async open() {
      const bus = new InMemoryEventBus({ logger });
      return { bus, another: async () => bus, release: () => bus.close() };
    },
  },
  {
    name: 'nats',
    available: natsAvailable,
    async open() {
      const names = uniqueNatsNames('agora_bus');
      const connectOne = () => connectNatsEventBus({ url: TEST_NATS_URL, ...names, logger, pullBatch: 5 });
      const bus = await connectOne();
      const others: TestBus[] = [];
      return {
        bus,
        async another() {
          const other = await connectOne();
          others.push(other);
          return other;
        },
        async release() {
          await Promise.all([bus, ...others].map((b) => b.close()));
          await deleteNatsStream(names.stream);
        },
      };
    },
  },
];

const CONFIRMED = 'order.confirmed';
const CANCELLED = 'order.cancelled';
const CAPTURED = 'payment.captured';
const STOCK = 'inventory.stock-changed';

/** The event bus port's contract: every adapter must pass the same suite. */
for (const adapter of adapters) {
  describe.runIf(await adapter.available())(`event bus contract on ${adapter.name}`, () => {
    let opened: OpenedBus;
    let bus: TestBus;
    const subscriptions: Subscription[] = [];

    const subscribe = async (target: EventBus, options: Parameters<EventBus['subscribe']>[0]): Promise<Subscription> => {
      const subscription = await target.subscribe(options);
      subscriptions.push(subscription);
      return subscription;
    };

    beforeEach(async () => {
      opened = await adapter.open();
      bus = opened.bus;
    });
    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
      await opened.release();
    });

    it('answers ping', async () => {
      await expect(bus.ping()).resolves.toBeUndefined();
    });

    it('delivers published events to a subscriber, in publish order', async () => {
      const received = new Received();
      await subscribe(bus, { durable: 'deliver', types: [CONFIRMED], handler: received.handler });
      const sent = [makeEvent(CONFIRMED, { n: 1 }), makeEvent(CONFIRMED, { n: 2 }), makeEvent(CONFIRMED, { n: 3 })];
      for (const event of sent) await bus.publish(event);
      await eventually(() => received.events.length === 3, 'three deliveries');
      expect(received.events).toEqual(sent);
    });

    it('a new durable receives events published before it subscribed', async () => {
      const before = [makeEvent(CONFIRMED), makeEvent(CONFIRMED)];
      for (const event of before) await bus.publish(event);
      const received = new Received();
      await subscribe(bus, { durable: 'late', types: [CONFIRMED], handler: received.handler });
      const after = makeEvent(CONFIRMED);
      await bus.publish(after);
      await eventually(() => received.has(after.id), 'the event published after subscribing');
      expect(received.ids()).toEqual([...before, after].map((e) => e.id));
    });

    it('subscribers sharing a durable compete: each event is handled once across the group', async () => {
      const other = await opened.another();
      const byA = new Received();
      const byB = new Received();
      const slow = (received: Received) => async (event: EventEnvelope) => {
        await sleep(5);
        await received.handler(event);
      };
      await subscribe(bus, { durable: 'group', types: [CONFIRMED], handler: slow(byA) });
      await subscribe(other, { durable: 'group', types: [CONFIRMED], handler: slow(byB) });
      const sent = Array.from({ length: 40 }, (_, n) => makeEvent(CONFIRMED, { n }));
      for (const event of sent) await bus.publish(event);
      await eventually(() => byA.events.length + byB.events.length >= sent.length, 'all events handled by the group');
      const handled = [...byA.ids(), ...byB.ids()].sort();
      expect(handled).toEqual(sent.map((e) => e.id).sort());
      expect(byA.events.length).toBeGreaterThan(0);
      expect(byB.events.length).toBeGreaterThan(0);
    });

    it('different durables each receive every event', async () => {
      const billing = new Received();
      const shipping = new Received();
      await subscribe(bus, { durable: 'billing', types: [CONFIRMED], handler: billing.handler });
      await subscribe(bus, { durable: 'shipping', types: [CONFIRMED], handler: shipping.handler });
      const sent = Array.from({ length: 10 }, (_, n) => makeEvent(CONFIRMED, { n }));
      for (const event of sent) await bus.publish(event);
      await eventually(() => billing.events.length === 10 && shipping.events.length === 10, 'both durables got all ten');
      expect(billing.ids()).toEqual(sent.map((e) => e.id));
      expect(shipping.ids()).toEqual(sent.map((e) => e.id));
    });

    it('delivers only the subscribed types (prefix-sharing and unrelated type sets)', async () => {
      expect(filterSubjectFor('p', [CANCELLED, CONFIRMED])).toBe('p.order.>');
      expect(filterSubjectFor('p', [CAPTURED, CONFIRMED])).toBe('p.>');
      const orders = new Received();
      const mixed = new Received();
      await subscribe(bus, { durable: 'orders', types: [CONFIRMED, CANCELLED], handler: orders.handler });
      await subscribe(bus, { durable: 'mixed', types: [CONFIRMED, CAPTURED], handler: mixed.handler });
      const confirmed = makeEvent(CONFIRMED);
      const stock = makeEvent(STOCK);
      const cancelled = makeEvent(CANCELLED);
      const captured = makeEvent(CAPTURED);
      const sentinel = makeEvent(CONFIRMED);
      for (const event of [confirmed, stock, cancelled, captured, sentinel]) await bus.publish(event);
      await eventually(() => orders.has(sentinel.id) && mixed.has(sentinel.id), 'the sentinel on both durables');
      expect(orders.ids()).toEqual([confirmed.id, cancelled.id, sentinel.id]);
      expect(mixed.ids()).toEqual([confirmed.id, captured.id, sentinel.id]);
    });

    it('drops a second publish of the same event id', async () => {
      const received = new Received();
      await subscribe(bus, { durable: 'dedup', types: [CONFIRMED], handler: received.handler });
      const event = makeEvent(CONFIRMED);
      await bus.publish(event);
      await bus.publish(event);
      await bus.publish({ ...event, payload: { changed: true } });
      const sentinel = makeEvent(CONFIRMED);
      await bus.publish(sentinel);
      await eventually(() => received.has(sentinel.id), 'the sentinel');
      expect(received.ids()).toEqual([event.id, sentinel.id]);
      expect(received.events[0]?.payload).toEqual(event.payload);
    });

    it('redelivers an event whose handler threw until it succeeds', async () => {
      const flaky = makeEvent(CONFIRMED);
      const fine = makeEvent(CONFIRMED);
      let attempts = 0;
      const handled: string[] = [];
      await subscribe(bus, {
        durable: 'retry',
        types: [CONFIRMED],
        retryDelayMs: 50,
        maxDeliver: 5,
        handler: async (event) => {
          if (event.id === flaky.id && ++attempts < 3) throw new Error(`transient failure ${attempts}`);
          handled.push(event.id);
        },
      });
      await bus.publish(flaky);
      await bus.publish(fine);
      await eventually(() => handled.includes(flaky.id) && handled.includes(fine.id), 'both events handled');
      expect(attempts).toBe(3);
      expect(handled.filter((id) => id === flaky.id)).toHaveLength(1);
      expect(bus.deadLetterCount()).toBe(0);
    });

    it('gives up after maxDeliver deliveries and counts a dead letter', async () => {
      const poison = makeEvent(CONFIRMED);
      const fine = makeEvent(CONFIRMED);
      let attempts = 0;
      const handled: string[] = [];
      await subscribe(bus, {
        durable: 'poison',
        types: [CONFIRMED],
        retryDelayMs: 20,
        maxDeliver: 3,
        handler: async (event) => {
          if (event.id === poison.id) {
            attempts++;
            throw new Error('always fails');
          }
          handled.push(event.id);
        },
      });
      await bus.publish(poison);
      await bus.publish(fine);
      await eventually(() => bus.deadLetterCount() === 1 && handled.includes(fine.id), 'the poison event dead-lettered');
      expect(attempts).toBe(3);
      // Nothing is redelivered after giving up; a later event still flows.
      const later = makeEvent(CONFIRMED);
      await sleep(300);
      await bus.publish(later);
      await eventually(() => handled.includes(later.id), 'a later event');
      expect(attempts).toBe(3);
    });

    it('redelivers an event not acknowledged within ackWaitMs', async () => {
      const other = await opened.another();
      const stuck = makeEvent(CONFIRMED);
      let calls = 0;
      const handled: string[] = [];
      const handler = async (event: EventEnvelope) => {
        // The first delivery outlives its ack wait; whoever gets the redelivery handles it at once.
        if (++calls === 1) await sleep(2_500);
        handled.push(event.id);
      };
      await subscribe(bus, { durable: 'ackwait', types: [CONFIRMED], ackWaitMs: 1_000, handler });
      await subscribe(other, { durable: 'ackwait', types: [CONFIRMED], ackWaitMs: 1_000, handler });
      await bus.publish(stuck);
      await eventually(() => calls >= 2 && handled.length >= 2, 'a redelivery after the ack wait');
      expect(new Set(handled)).toEqual(new Set([stuck.id]));
      expect(bus.deadLetterCount()).toBe(0);
    });

    it('stop() ends delivery; resubscribing continues where the durable left off', async () => {
      const first = new Received();
      const subscription = await subscribe(bus, { durable: 'resume', types: [CONFIRMED], handler: first.handler });
      const early = [makeEvent(CONFIRMED), makeEvent(CONFIRMED), makeEvent(CONFIRMED)];
      for (const event of early) await bus.publish(event);
      await eventually(() => first.events.length === 3, 'the first three');
      await subscription.stop();
      const late = [makeEvent(CONFIRMED), makeEvent(CONFIRMED)];
      for (const event of late) await bus.publish(event);
      await sleep(200);
      expect(first.events).toHaveLength(3);
      const second = new Received();
      await subscribe(bus, { durable: 'resume', types: [CONFIRMED], handler: second.handler });
      await eventually(() => second.events.length >= 2, 'the two published while stopped');
      const sentinel = makeEvent(CONFIRMED);
      await bus.publish(sentinel);
      await eventually(() => second.has(sentinel.id), 'the sentinel');
      expect(second.ids()).toEqual([...late, sentinel].map((e) => e.id));
    });

    it('stop() hands events the subscriber had not handled to the rest of the group', async () => {
      const gate = latch();
      const byA: string[] = [];
      const a = await subscribe(bus, {
        durable: 'handback',
        types: [CONFIRMED],
        ackWaitMs: 120_000,
        handler: async (event) => {
          await gate.wait;
          byA.push(event.id);
        },
      });
      const sent = Array.from({ length: 5 }, (_, n) => makeEvent(CONFIRMED, { n }));
      for (const event of sent) await bus.publish(event);
      await sleep(200);
      const stopping = a.stop();
      gate.open();
      await stopping;
      expect(byA.length).toBeGreaterThanOrEqual(1);
      const b = new Received();
      const other = await opened.another();
      await subscribe(other, { durable: 'handback', types: [CONFIRMED], ackWaitMs: 120_000, handler: b.handler });
      // Well inside the 120 s ack wait: the stopped subscriber handed its buffered events back.
      await eventually(() => byA.length + b.events.length === sent.length, 'every event handled once across both', 30_000);
      expect([...byA, ...b.ids()].sort()).toEqual(sent.map((e) => e.id).sort());
    });

    it('rejects invalid subscriptions and event types', async () => {
      const handler = async () => undefined;
      await expect(bus.subscribe({ durable: 'has.dot', types: [CONFIRMED], handler })).rejects.toThrow(/durable/);
      await expect(bus.subscribe({ durable: 'none', types: [], handler })).rejects.toThrow(/no event types/);
      await expect(bus.subscribe({ durable: 'wild', types: ['order.*'], handler })).rejects.toThrow(/event type/);
      await expect(bus.publish(makeEvent('order.>'))).rejects.toThrow(/event type/);
      await expect(bus.publish(makeEvent(CONFIRMED, 'x'.repeat(600_000)))).rejects.toThrow(/limit/);
    });

    it('close() stops every subscription and refuses further use', async () => {
      const received = new Received();
      await subscribe(bus, { durable: 'closing', types: [CONFIRMED], handler: received.handler });
      const event = makeEvent(CONFIRMED);
      await bus.publish(event);
      await eventually(() => received.has(event.id), 'the event');
      await bus.close();
      await expect(bus.publish(makeEvent(CONFIRMED))).rejects.toThrow();
      await expect(bus.ping()).rejects.toThrow();
    });
  });
}
