import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { pgSchema } from 'drizzle-orm/pg-core';
import { generateDrizzleJson, generateMigration } from 'drizzle-kit/api';
import type { events } from '@agora/contracts';
import {
  InMemoryEventBus,
  OutboxRelay,
  connectNatsEventBus,
  createLogger,
  outboxTable,
  writeOutbox,
  type EventBus,
  type Storage,
  type SubscribeOptions,
  type Subscription,
} from '../src/index.js';
import { TEST_NATS_URL, deleteNatsStream, natsAvailable, postgresBackend, testBackends, uniqueNatsNames } from '../src/testing/index.js';
import { Received, eventually, makeEvent } from './messaging-helpers.js';

type EventEnvelope = events.EventEnvelope;

const logger = createLogger('outbox-test', 'silent');
const TYPE = 'order.confirmed';

/** Wraps a bus to count successful publishes per event id, and optionally to "crash" after some. */
class ProbeBus implements EventBus {
  readonly published = new Map<string, number>();
  /** Publishes that succeed and then throw, as if the relay died before marking the row. */
  crashesLeft = 0;

  constructor(private readonly inner: EventBus) {}

  async publish(event: EventEnvelope): Promise<void> {
    await this.inner.publish(event);
    this.published.set(event.id, (this.published.get(event.id) ?? 0) + 1);
    if (this.crashesLeft > 0) {
      this.crashesLeft--;
      throw new Error('simulated crash after publish, before marking');
    }
  }
  subscribe(options: SubscribeOptions): Promise<Subscription> {
    return this.inner.subscribe(options);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

let schemaCounter = 0;

/** A fresh service schema with its outbox, created by the very SQL drizzle-kit generates for `outboxTable`. */
async function createOutboxSchema(storage: Storage): Promise<string> {
  const name = `outbox_test_${++schemaCounter}`;
  const schema = pgSchema(name);
  const outbox = outboxTable(schema);
  const statements = await generateMigration(generateDrizzleJson({}), generateDrizzleJson({ schema, outbox }));
  for (const statement of statements) await storage.query(sql.raw(statement));
  return name;
}

async function writeCommitted(storage: Storage, schema: string, batch: EventEnvelope[]): Promise<void> {
  await storage.transaction((tx) => writeOutbox(storage, tx, schema, batch));
}

async function unpublishedCount(storage: Storage, schema: string): Promise<number> {
  const rows = await storage.query<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(schema)}.outbox where published_at is null`);
  return rows[0]?.n ?? -1;
}

async function drain(relay: OutboxRelay): Promise<void> {
  while ((await relay.flushOnce()) > 0);
}

/** Starts three relays on one outbox, writes `total` events in small transactions while they run. */
async function raceThreeRelays(storage: Storage, schema: string, bus: EventBus, total: number): Promise<EventEnvelope[]> {
  const relays = Array.from({ length: 3 }, () => new OutboxRelay({ storage, schema, bus, logger, batchSize: 4, intervalMs: 10 }));
  relays.forEach((r) => r.start());
  const sent = Array.from({ length: total }, (_, n) => makeEvent(TYPE, { n }, `order-${n % 7}`));
  const batches: EventEnvelope[][] = [];
  for (let i = 0; i < sent.length; i += 5) batches.push(sent.slice(i, i + 5));
  await Promise.all(
    batches.map(async (batch, i) => {
      await writeCommitted(storage, schema, batch);
      relays[i % relays.length]?.poke();
    }),
  );
  await eventually(async () => (await unpublishedCount(storage, schema)) === 0, 'every outbox row published', 30_000);
  await Promise.all(relays.map((r) => r.stop()));
  return sent;
}

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`outbox relay on ${backend.kind} with the in-memory bus`, () => {
    let storage: Storage;
    let release: () => Promise<void>;
    let inner: InMemoryEventBus;
    let bus: ProbeBus;
    let received: Received;
    let subscription: Subscription;
    let durableCounter = 0;

    beforeAll(async () => {
      const opened = await backend.open();
      storage = opened.storage;
      release = opened.release;
    });
    afterAll(async () => release());

    const freshBus = async () => {
      inner = new InMemoryEventBus({ logger });
      bus = new ProbeBus(inner);
      received = new Received();
      subscription = await inner.subscribe({ durable: `relay_${++durableCounter}`, types: [TYPE], handler: received.handler });
    };
    afterEach(async () => {
      await subscription.stop();
      await inner.close();
    });

    it('publishes rows of committed transactions exactly once with three relays racing', async () => {
      await freshBus();
      const schema = await createOutboxSchema(storage);
      const sent = await raceThreeRelays(storage, schema, bus, 60);
      for (const event of sent) expect(bus.published.get(event.id), `publishes of ${event.id}`).toBe(1);
      await eventually(() => received.events.length === sent.length, 'every event delivered');
      expect(received.ids().sort()).toEqual(sent.map((e) => e.id).sort());
      expect(received.events.find((e) => e.id === sent[0]?.id)).toEqual(sent[0]);
    });

    it('never publishes rows of a rolled-back transaction', async () => {
      await freshBus();
      const schema = await createOutboxSchema(storage);
      const doomed = [makeEvent(TYPE), makeEvent(TYPE)];
      await expect(
        storage.transaction(async (tx) => {
          await writeOutbox(storage, tx, schema, doomed);
          throw new Error('business rule failed');
        }),
      ).rejects.toThrow('business rule failed');
      const kept = makeEvent(TYPE);
      await writeCommitted(storage, schema, [kept]);
      const relay = new OutboxRelay({ storage, schema, bus, logger });
      await drain(relay);
      expect([...bus.published.keys()]).toEqual([kept.id]);
      const rows = await storage.query<{ id: string }>(sql`select id::text as id from ${sql.identifier(schema)}.outbox`);
      expect(rows.map((r) => r.id)).toEqual([kept.id]);
      await eventually(() => received.has(kept.id), 'the committed event');
      expect(received.ids()).toEqual([kept.id]);
    });

    it('a relay that dies after publishing but before marking re-publishes; the bus delivers once', async () => {
      await freshBus();
      const schema = await createOutboxSchema(storage);
      const event = makeEvent(TYPE, { crash: true });
      await writeCommitted(storage, schema, [event]);
      bus.crashesLeft = 1;
      const crashing = new OutboxRelay({ storage, schema, bus, logger });
      await expect(crashing.flushOnce()).rejects.toThrow(/publish failed/);
      expect(await unpublishedCount(storage, schema)).toBe(1);
      const sentinel = makeEvent(TYPE);
      await writeCommitted(storage, schema, [sentinel]);
      const survivor = new OutboxRelay({ storage, schema, bus, logger });
      expect(await survivor.flushOnce()).toBe(2);
      expect(bus.published.get(event.id)).toBe(2);
      expect(await unpublishedCount(storage, schema)).toBe(0);
      await eventually(() => received.has(sentinel.id), 'the sentinel');
      expect(received.ids()).toEqual([event.id, sentinel.id]);
    });

    it('a publish failure keeps the rows published before it and leaves the rest for later', async () => {
      await freshBus();
      const schema = await createOutboxSchema(storage);
      const sent = [makeEvent(TYPE), makeEvent(TYPE), makeEvent(TYPE)];
      await writeCommitted(storage, schema, sent);
      let calls = 0;
      const failingSecond: EventBus = {
        publish: async (event) => {
          if (++calls === 2) throw new Error('broker unavailable');
          await bus.publish(event);
        },
        subscribe: (options) => bus.subscribe(options),
        ping: () => bus.ping(),
        close: () => bus.close(),
      };
      await expect(new OutboxRelay({ storage, schema, bus: failingSecond, logger }).flushOnce()).rejects.toThrow(/after 1 event/);
      expect(await unpublishedCount(storage, schema)).toBe(2);
      await drain(new OutboxRelay({ storage, schema, bus, logger }));
      for (const event of sent) expect(bus.published.get(event.id)).toBe(1);
    });

    it('round-trips the envelope and ignores a second write of the same id', async () => {
      await freshBus();
      const schema = await createOutboxSchema(storage);
      const nested = makeEvent(TYPE, { total: { amount: 1999, currency: 'EUR' }, lines: [{ sku: 'A', quantity: 2 }], note: null });
      const scalar = makeEvent(TYPE, 'just a string');
      await writeCommitted(storage, schema, [nested, scalar]);
      await writeCommitted(storage, schema, [{ ...nested, payload: { overwritten: true } }]);
      await drain(new OutboxRelay({ storage, schema, bus, logger }));
      await eventually(() => received.events.length === 2, 'both events');
      expect(received.events).toEqual([nested, scalar]);
    });

    it('a poke wakes a sleeping relay at once', async () => {
      await freshBus();
      const schema = await createOutboxSchema(storage);
      const relay = new OutboxRelay({ storage, schema, bus, logger, intervalMs: 600_000 });
      relay.start();
      await eventually(async () => (await unpublishedCount(storage, schema)) === 0, 'the first (empty) pass');
      const event = makeEvent(TYPE);
      await writeCommitted(storage, schema, [event]);
      relay.poke();
      await eventually(() => received.has(event.id), 'the poked event, long before the ten-minute interval');
      await relay.stop();
      await relay.stop();
    });

    it('gathers a burst of pokes into a couple of relay transactions, not one each', async () => {
      await freshBus();
      const schema = await createOutboxSchema(storage);
      const burst = 50;
      // A window no timer closes in this test: only a batch's worth of pokes does, so nothing here is timing.
      const relay = new OutboxRelay({ storage, schema, bus, logger, batchSize: burst, intervalMs: 600_000, pokeDebounceMs: 600_000 });
      relay.start();
      await eventually(() => relay.rounds === 1, 'the first (empty) pass');
      const sent: EventEnvelope[] = [];
      for (let i = 0; i < burst; i++) {
        const event = makeEvent(TYPE, { i });
        sent.push(event);
        await writeCommitted(storage, schema, [event]);
        relay.poke();
      }
      await eventually(async () => (await unpublishedCount(storage, schema)) === 0, 'the burst published');
      await relay.stop();
      // One claim for the burst, one more that finds nothing after a full batch.
      expect(relay.rounds - 1).toBeLessThanOrEqual(2);
      for (const event of sent) expect(bus.published.get(event.id)).toBe(1);
    });

    it('stops at once while gathering pokes', async () => {
      await freshBus();
      const schema = await createOutboxSchema(storage);
      const relay = new OutboxRelay({ storage, schema, bus, logger, intervalMs: 600_000, pokeDebounceMs: 600_000 });
      relay.start();
      await eventually(() => relay.rounds === 1, 'the first (empty) pass');
      relay.poke();
      await relay.stop();
      expect(relay.rounds).toBe(1);
      expect(() => new OutboxRelay({ storage, schema, bus, logger, pokeDebounceMs: -1 })).toThrow(/pokeDebounceMs/);
    });

    it('prunes published rows older than the retention and keeps the rest', async () => {
      await freshBus();
      const schema = await createOutboxSchema(storage);
      const old = makeEvent(TYPE);
      const recent = makeEvent(TYPE);
      const pending = makeEvent(TYPE);
      await writeCommitted(storage, schema, [old, recent]);
      const relay = new OutboxRelay({ storage, schema, bus, logger, retentionHours: 24 });
      await drain(relay);
      await writeCommitted(storage, schema, [pending]);
      await storage.query(sql`update ${sql.identifier(schema)}.outbox set published_at = now() - interval '48 hours' where id = ${old.id}::uuid`);
      expect(await relay.prune()).toBe(1);
      const rows = await storage.query<{ id: string }>(sql`select id::text as id from ${sql.identifier(schema)}.outbox order by occurred_at, id`);
      expect(rows.map((r) => r.id)).toEqual([recent.id, pending.id]);
    });

    it('refuses, inside the business transaction, an event the bus would refuse', async () => {
      await freshBus();
      const schema = await createOutboxSchema(storage);
      await expect(writeCommitted(storage, schema, [makeEvent(TYPE), makeEvent('order.*')])).rejects.toThrow(/event type/);
      await expect(writeCommitted(storage, schema, [makeEvent(TYPE, 'x'.repeat(600_000))])).rejects.toThrow(/limit/);
      const rows = await storage.query<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(schema)}.outbox`);
      expect(rows[0]?.n).toBe(0);
    });

    it('refuses a schema name that is not a plain identifier', () => {
      expect(() => new OutboxRelay({ storage, schema: 'order; drop table x', bus: new InMemoryEventBus({ logger }), logger })).toThrow(/identifier/);
    });
  });
}

const postgresUp = await postgresBackend.available();
const natsUp = await natsAvailable();

describe.runIf(postgresUp && natsUp)('outbox relay on postgres with the NATS bus', () => {
  let storage: Storage;
  let release: () => Promise<void>;
  const names = uniqueNatsNames('agora_outbox');

  beforeAll(async () => {
    const opened = await postgresBackend.open();
    storage = opened.storage;
    release = opened.release;
  });
  afterAll(async () => {
    await release();
    await deleteNatsStream(names.stream);
  });

  it('three racing relays publish every committed row once; a crash re-publish is deduplicated', async () => {
    const nats = await connectNatsEventBus({ url: TEST_NATS_URL, ...names, logger });
    const bus = new ProbeBus(nats);
    const received = new Received();
    const subscription = await nats.subscribe({ durable: 'relay_nats', types: [TYPE], handler: received.handler });
    try {
      const schema = await createOutboxSchema(storage);
      const sent = await raceThreeRelays(storage, schema, bus, 60);
      for (const event of sent) expect(bus.published.get(event.id), `publishes of ${event.id}`).toBe(1);
      await eventually(() => received.events.length >= sent.length, 'every event delivered over NATS');

      const crashed = makeEvent(TYPE, { crash: true });
      await writeCommitted(storage, schema, [crashed]);
      bus.crashesLeft = 1;
      await expect(new OutboxRelay({ storage, schema, bus, logger }).flushOnce()).rejects.toThrow(/publish failed/);
      const sentinel = makeEvent(TYPE);
      await writeCommitted(storage, schema, [sentinel]);
      await drain(new OutboxRelay({ storage, schema, bus, logger }));
      expect(bus.published.get(crashed.id)).toBe(2);
      await eventually(() => received.has(sentinel.id), 'the sentinel');
      expect(received.count(crashed.id)).toBe(1);
      expect(received.ids().sort()).toEqual([...sent, crashed, sentinel].map((e) => e.id).sort());
    } finally {
      await subscription.stop();
      await nats.close();
    }
  });
});
