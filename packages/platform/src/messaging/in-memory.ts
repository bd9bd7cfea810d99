import type { events } from '@agora/contracts';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import {
  BUS_DEFAULTS,
  ConsumerMetrics,
  DeadLetterReporter,
  resolveSubscribeOptions,
  retryDelay,
  serializeEvent,
  type EventBus,
  type EventHandler,
  type ResolvedSubscribeOptions,
  type SubscribeOptions,
  type Subscription,
} from './bus.js';

type EventEnvelope = events.EventEnvelope;

export interface InMemoryEventBusOptions {
  logger: Logger;
  metrics?: Metrics;
  /** A second publish of the same event id within this window is dropped. */
  duplicateWindowMs?: number;
  /** Stream retention, as a JetStream stream's limits: the oldest events beyond either bound go. */
  maxEvents?: number;
  maxAgeMs?: number;
}

export const IN_MEMORY_BUS_DEFAULTS = {
  maxEvents: 100_000,
  maxAgeMs: 7 * 24 * 3_600_000,
} as const;

interface StoredEvent {
  /** Serialized as on the wire, so a handler can neither mutate the stored copy nor see non-JSON values. */
  json: string;
  type: string;
  storedAt: number;
}

/** A delivered-but-unacknowledged event of one durable consumer. */
interface PendingEvent {
  deliveries: number;
  /** Which delivery is current: an outcome of an older (timed-out) delivery does not steer redelivery. */
  attempt: number;
  /** The ack-wait timer while in flight, the retry timer after a failure. */
  timer: NodeJS.Timeout | undefined;
  queued: boolean;
}

interface MemorySubscriber {
  handler: EventHandler;
  active: boolean;
  inFlight: Promise<void> | undefined;
}

interface MemoryConsumer {
  options: Omit<ResolvedSubscribeOptions, 'handler'>;
  types: Set<string>;
  /** The next stream sequence this durable has not looked at yet. */
  nextSeq: number;
  pending: Map<number, PendingEvent>;
  /** Sequences due for redelivery, oldest first. */
  ready: number[];
  subscribers: MemorySubscriber[];
  roundRobin: number;
}

/**
 * The event bus inside one process, for the zero-setup `npm start` and for tests. It keeps the
 * contract of the NATS adapter: a retained stream, durable consumers that start from the beginning,
 * competing subscribers within a durable, redelivery after a failure or an ack-wait timeout,
 * `maxDeliver`, and deduplication by event id within a window. Nothing survives the process.
 */
export class InMemoryEventBus implements EventBus {
  private readonly logger: Logger;
  private readonly deadLetters: DeadLetterReporter;
  private readonly consumerMetrics: ConsumerMetrics;
  private readonly duplicateWindowMs: number;
  private readonly maxEvents: number;
  private readonly maxAgeMs: number;
  private readonly log = new Map<number, StoredEvent>();
  private firstSeq = 1;
  private nextSeq = 1;
  /** Event id → when its dedup entry expires; insertion order is expiry order. */
  private readonly seen = new Map<string, number>();
  private readonly consumers = new Map<string, MemoryConsumer>();
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;

  constructor(options: InMemoryEventBusOptions) {
    this.logger = options.logger;
    this.deadLetters = new DeadLetterReporter(options.logger, options.metrics);
    this.consumerMetrics = new ConsumerMetrics(options.metrics);
    this.duplicateWindowMs = options.duplicateWindowMs ?? BUS_DEFAULTS.duplicateWindowMs;
    this.maxEvents = options.maxEvents ?? IN_MEMORY_BUS_DEFAULTS.maxEvents;
    this.maxAgeMs = options.maxAgeMs ?? IN_MEMORY_BUS_DEFAULTS.maxAgeMs;
  }

  async publish(event: EventEnvelope): Promise<void> {
    this.assertOpen();
    const json = serializeEvent(event);
    const now = Date.now();
    this.forgetExpiredIds(now);
    if (this.seen.has(event.id)) {
      this.logger.debug({ eventId: event.id, eventType: event.type }, 'duplicate publish dropped');
      return;
    }
    this.seen.set(event.id, now + this.duplicateWindowMs);
    this.log.set(this.nextSeq++, { json, type: event.type, storedAt: now });
    this.applyRetention(now);
    for (const consumer of this.consumers.values()) {
      if (consumer.types.has(event.type)) this.dispatch(consumer);
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    const { handler, ...settings } = resolveSubscribeOptions(options);
    let consumer = this.consumers.get(settings.durable);
    if (!consumer) {
      consumer = { options: settings, types: new Set(settings.types), nextSeq: this.firstSeq, pending: new Map(), ready: [], subscribers: [], roundRobin: 0 };
      this.consumers.set(settings.durable, consumer);
    } else {
      // As with a JetStream durable, the latest subscriber's settings update the consumer in place.
      consumer.options = settings;
      consumer.types = new Set(settings.types);
    }
    const subscriber: MemorySubscriber = { handler, active: true, inFlight: undefined };
    consumer.subscribers.push(subscriber);
    const owner = consumer;
    const subscription: Subscription = {
      stop: async () => {
        this.subscriptions.delete(subscription);
        if (!subscriber.active) return;
        subscriber.active = false;
        owner.subscribers = owner.subscribers.filter((s) => s !== subscriber);
        await subscriber.inFlight;
        this.dispatch(owner);
      },
    };
    this.subscriptions.add(subscription);
    this.dispatch(consumer);
    return subscription;
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    for (const consumer of this.consumers.values()) {
      for (const pending of consumer.pending.values()) clearTimeout(pending.timer);
    }
    this.consumers.clear();
    this.log.clear();
    this.seen.clear();
  }

  /** Events dead-lettered since this bus started. */
  deadLetterCount(): number {
    return this.deadLetters.total();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('event bus is closed');
  }

  private forgetExpiredIds(now: number): void {
    for (const [id, expiresAt] of this.seen) {
      if (expiresAt > now) break;
      this.seen.delete(id);
    }
  }

  private applyRetention(now: number): void {
    while (this.firstSeq < this.nextSeq) {
      const oldest = this.log.get(this.firstSeq);
      if (oldest && this.log.size <= this.maxEvents && now - oldest.storedAt <= this.maxAgeMs) break;
      this.log.delete(this.firstSeq++);
    }
  }

  /** Hands events to idle subscribers until either runs out. */
  private dispatch(consumer: MemoryConsumer): void {
    if (this.closed) return;
    for (;;) {
      const subscriber = this.idleSubscriber(consumer);
      if (!subscriber) return;
      const next = this.takeNext(consumer);
      if (!next) return;
      this.deliver(consumer, subscriber, next.seq, next.stored);
    }
  }

  private idleSubscriber(consumer: MemoryConsumer): MemorySubscriber | undefined {
    const count = consumer.subscribers.length;
    for (let i = 0; i < count; i++) {
      const candidate = consumer.subscribers[(consumer.roundRobin + i) % count];
      if (candidate && candidate.active && !candidate.inFlight) {
        consumer.roundRobin = (consumer.roundRobin + i + 1) % count;
        return candidate;
      }
    }
    return undefined;
  }

  /** Redeliveries first, then events this durable has not seen; events past retention are forgotten. */
  private takeNext(consumer: MemoryConsumer): { seq: number; stored: StoredEvent } | undefined {
    while (consumer.ready.length > 0) {
      const seq = consumer.ready.shift() as number;
      const pending = consumer.pending.get(seq);
      if (!pending) continue;
      pending.queued = false;
      const stored = this.log.get(seq);
      if (stored) return { seq, stored };
      clearTimeout(pending.timer);
      consumer.pending.delete(seq);
    }
    if (consumer.nextSeq < this.firstSeq) consumer.nextSeq = this.firstSeq;
    while (consumer.nextSeq < this.nextSeq) {
      const seq = consumer.nextSeq++;
      const stored = this.log.get(seq);
      if (stored && consumer.types.has(stored.type)) {
        consumer.pending.set(seq, { deliveries: 0, attempt: 0, timer: undefined, queued: false });
        return { seq, stored };
      }
    }
    return undefined;
  }

  private deliver(consumer: MemoryConsumer, subscriber: MemorySubscriber, seq: number, stored: StoredEvent): void {
    const pending = consumer.pending.get(seq);
    if (!pending) return;
    const event = JSON.parse(stored.json) as EventEnvelope;
    pending.deliveries++;
    pending.attempt++;
    const { maxDeliver, ackWaitMs, durable } = consumer.options;
    if (pending.deliveries > maxDeliver) {
      // Only reachable when earlier deliveries timed out: the handler never finished in time.
      consumer.pending.delete(seq);
      this.deadLetters.report({ durable, event, deliveries: pending.deliveries - 1, reason: `not acknowledged within ${ackWaitMs} ms` });
      return;
    }
    const attempt = pending.attempt;
    clearTimeout(pending.timer);
    pending.timer = setTimeout(() => this.onAckTimeout(consumer, seq, attempt), ackWaitMs);
    pending.timer.unref();
    this.consumerMetrics.delivered(durable, event, pending.deliveries);
    subscriber.inFlight = this.run(consumer, subscriber, seq, attempt, event);
  }

  private async run(consumer: MemoryConsumer, subscriber: MemorySubscriber, seq: number, attempt: number, event: EventEnvelope): Promise<void> {
    let failure: unknown;
    let failed = false;
    // Handlers never run inside the publisher's call stack, as with a broker.
    await Promise.resolve();
    try {
      await subscriber.handler(event);
    } catch (err) {
      failure = err;
      failed = true;
    }
    subscriber.inFlight = undefined;
    const pending = consumer.pending.get(seq);
    const { durable, maxDeliver, retryDelayMs } = consumer.options;
    if (pending && !failed) {
      // An ack counts even from a delivery that already timed out, as on JetStream.
      clearTimeout(pending.timer);
      consumer.pending.delete(seq);
      if (pending.queued) consumer.ready = consumer.ready.filter((s) => s !== seq);
    } else if (pending && pending.attempt === attempt && !pending.queued) {
      clearTimeout(pending.timer);
      pending.timer = undefined;
      if (pending.deliveries >= maxDeliver) {
        consumer.pending.delete(seq);
        this.deadLetters.report({ durable, event, deliveries: pending.deliveries, reason: errorMessage(failure) });
      } else {
        const delayMs = retryDelay(retryDelayMs, pending.deliveries);
        this.logger.warn({ durable, eventId: event.id, eventType: event.type, deliveries: pending.deliveries, retryInMs: delayMs, err: failure }, 'event handler failed; will redeliver');
        pending.timer = setTimeout(() => this.requeue(consumer, seq, attempt), delayMs);
        pending.timer.unref();
      }
    } else if (failed) {
      this.logger.warn({ durable, eventId: event.id, eventType: event.type, err: failure }, 'event handler failed on a delivery that had already timed out');
    }
    this.dispatch(consumer);
  }

  private onAckTimeout(consumer: MemoryConsumer, seq: number, attempt: number): void {
    const pending = consumer.pending.get(seq);
    if (!pending || pending.attempt !== attempt) return;
    this.logger.warn({ durable: consumer.options.durable, seq, deliveries: pending.deliveries }, 'event not acknowledged within ack wait; will redeliver');
    this.requeue(consumer, seq, attempt);
  }

  private requeue(consumer: MemoryConsumer, seq: number, attempt: number): void {
    const pending = consumer.pending.get(seq);
    if (!pending || pending.attempt !== attempt || pending.queued || this.closed) return;
    pending.timer = undefined;
    pending.queued = true;
    const at = consumer.ready.findIndex((s) => s > seq);
    if (at === -1) consumer.ready.push(seq);
    else consumer.ready.splice(at, 0, seq);
    this.dispatch(consumer);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
