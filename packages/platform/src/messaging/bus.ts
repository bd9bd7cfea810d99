import type { events } from '@agora/contracts';
import { newId } from '@agora/kernel';
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';

type EventEnvelope = events.EventEnvelope;

/** What a subscriber does with one event; a throw means "not handled, deliver it again later". */
export type EventHandler = (event: EventEnvelope) => Promise<void>;

export interface SubscribeOptions {
  /**
   * The consumer group. Subscribers with the same durable name share the work (each event goes to
   * one of them); each durable name gets every event of its types, from the start of the stream
   * when the name is new, and resumes where it left off when it comes back.
   */
  durable: string;
  /**
   * Event types this durable receives; others are skipped. Every subscriber of one durable passes the
   * same types: they are part of its identity (the latest subscribe updates the consumer in place,
   * and events of types added later that were published before the change are not replayed).
   */
  types: string[];
  handler: EventHandler;
  /** Deliveries of one event before it is dropped as a dead letter (logged and counted). */
  maxDeliver?: number;
  /** A delivery not acknowledged within this time is delivered again. */
  ackWaitMs?: number;
  /** First redelivery delay after a handler throws; doubles with every further failure. */
  retryDelayMs?: number;
}

export interface Subscription {
  /**
   * Stops delivery to this subscriber: waits for the handler in flight, and hands every event this
   * subscriber received but did not handle back to the group at once.
   */
  stop(): Promise<void>;
}

/**
 * The event bus port. At-least-once delivery to durable consumer groups, redelivery after a failed
 * or unacknowledged handler up to `maxDeliver`, deduplication of publishes by `event.id` within a
 * window. Handlers must be idempotent: a duplicate delivery is always possible.
 */
export interface EventBus {
  /** Resolves once the event is durably accepted; the same `event.id` again within the window is a no-op. */
  publish(event: EventEnvelope): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Throws when the bus cannot accept events (readiness). */
  ping(): Promise<void>;
  /** Stops every subscription and releases the connection; no timers remain. */
  close(): Promise<void>;
}

export const BUS_DEFAULTS = {
  maxDeliver: 5,
  ackWaitMs: 30_000,
  retryDelayMs: 1_000,
  maxRetryDelayMs: 60_000,
  duplicateWindowMs: 120_000,
} as const;

/** Bounds on subscription options; out-of-range values are a programming error. */
export const BUS_LIMITS = {
  maxDeliverMax: 1_000,
  ackWaitMsMin: 100,
  ackWaitMsMax: 3_600_000,
  typesMax: 64,
  /** A serialized event; NATS refuses messages over its max_payload (1 MiB by default). */
  eventBytesMax: 512 * 1024,
} as const;

/** A type becomes a subject suffix: dot-separated tokens of letters, digits, `_` and `-`. */
const EVENT_TYPE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** Durable names are NATS consumer names: no dots, wildcards or whitespace. */
const DURABLE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function assertEventType(type: string): void {
  if (!EVENT_TYPE.test(type)) throw new Error(`event type must be dot-separated tokens of [A-Za-z0-9_-], got "${type}"`);
}

export interface ResolvedSubscribeOptions {
  durable: string;
  types: string[];
  handler: EventHandler;
  maxDeliver: number;
  ackWaitMs: number;
  retryDelayMs: number;
}

export function resolveSubscribeOptions(options: SubscribeOptions): ResolvedSubscribeOptions {
  if (!DURABLE_NAME.test(options.durable)) throw new Error(`durable name must match ${DURABLE_NAME.source}, got "${options.durable}"`);
  const types = [...new Set(options.types)].sort();
  if (types.length === 0) throw new Error(`durable "${options.durable}" subscribes to no event types`);
  if (types.length > BUS_LIMITS.typesMax) throw new Error(`durable "${options.durable}" subscribes to more than ${BUS_LIMITS.typesMax} types`);
  types.forEach(assertEventType);
  const maxDeliver = options.maxDeliver ?? BUS_DEFAULTS.maxDeliver;
  if (!Number.isInteger(maxDeliver) || maxDeliver < 1 || maxDeliver > BUS_LIMITS.maxDeliverMax) {
    throw new Error(`maxDeliver must be an integer in 1..${BUS_LIMITS.maxDeliverMax}, got ${maxDeliver}`);
  }
  const ackWaitMs = options.ackWaitMs ?? BUS_DEFAULTS.ackWaitMs;
  if (!Number.isInteger(ackWaitMs) || ackWaitMs < BUS_LIMITS.ackWaitMsMin || ackWaitMs > BUS_LIMITS.ackWaitMsMax) {
    throw new Error(`ackWaitMs must be an integer in ${BUS_LIMITS.ackWaitMsMin}..${BUS_LIMITS.ackWaitMsMax}, got ${ackWaitMs}`);
  }
  const retryDelayMs = options.retryDelayMs ?? BUS_DEFAULTS.retryDelayMs;
  if (!Number.isFinite(retryDelayMs) || retryDelayMs < 0) throw new Error(`retryDelayMs must be >= 0, got ${retryDelayMs}`);
  return { durable: options.durable, types, handler: options.handler, maxDeliver, ackWaitMs, retryDelayMs };
}

/** Delay before delivery number `deliveryCount + 1` after `deliveryCount` failed: exponential, capped. */
export function retryDelay(retryDelayMs: number, deliveryCount: number): number {
  const exponent = Math.min(Math.max(deliveryCount - 1, 0), 20);
  return Math.min(retryDelayMs * 2 ** exponent, BUS_DEFAULTS.maxRetryDelayMs);
}

/**
 * A fact as a service writes it to its outbox (or publishes it): the envelope every fact travels
 * in, with a new UUIDv7 id unless the fact has one of its own (a flash-sale ticket is its id).
 */
export function newEnvelope(type: string, key: string, payload: unknown, at: Date, id: string = newId()): EventEnvelope {
  return { id, type, key, occurredAt: at.toISOString(), payload };
}

/** Events that reach a consumer are checked at the edge: a malformed message is a dead letter, not a crash. */
export function parseEnvelope(value: unknown): EventEnvelope | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.id !== 'string' || typeof record.type !== 'string' || typeof record.key !== 'string' || typeof record.occurredAt !== 'string') {
    return undefined;
  }
  const envelope: EventEnvelope = { id: record.id, type: record.type, key: record.key, occurredAt: record.occurredAt, payload: record.payload };
  const trace = record.traceContext;
  if (typeof trace === 'object' && trace !== null) {
    const { traceparent, tracestate } = trace as Record<string, unknown>;
    if (typeof traceparent === 'string') envelope.traceContext = typeof tracestate === 'string' ? { traceparent, tracestate } : { traceparent };
  }
  return envelope;
}

/**
 * The wire form of an event, after the checks every adapter (and the outbox, at write time) applies:
 * an id to deduplicate on, a type that is a valid subject suffix, a size the broker accepts.
 */
export function serializeEvent(event: EventEnvelope): string {
  if (typeof event.id !== 'string' || event.id.length === 0) throw new Error('event id is required: it is the deduplication key');
  assertEventType(event.type);
  const json = JSON.stringify(event);
  const bytes = Buffer.byteLength(json);
  if (bytes > BUS_LIMITS.eventBytesMax) throw new Error(`event ${event.id} (${event.type}) is ${bytes} bytes; the limit is ${BUS_LIMITS.eventBytesMax}`);
  return json;
}

export interface DeadLetter {
  durable: string;
  event: EventEnvelope | undefined;
  deliveries: number;
  reason: string;
}

/** Logs and counts events given up on; both adapters report through it the same way. */
export class DeadLetterReporter {
  private count = 0;
  private readonly counter: Counter<'durable' | 'type'> | undefined;

  constructor(
    private readonly logger: Logger,
    metrics?: Metrics,
  ) {
    this.counter = metrics?.counter('agora_events_dead_lettered_total', 'Events dropped after exhausting their deliveries, by durable consumer and type', ['durable', 'type']);
  }

  report(letter: DeadLetter): void {
    this.count++;
    const type = letter.event?.type ?? 'unknown';
    this.counter?.inc({ durable: letter.durable, type });
    this.logger.error(
      { durable: letter.durable, eventId: letter.event?.id, eventType: type, key: letter.event?.key, deliveries: letter.deliveries, reason: letter.reason },
      'event dead-lettered: giving up on it',
    );
  }

  /** Events dead-lettered by this bus instance since it started. */
  total(): number {
    return this.count;
  }
}

/** Seconds from an event's occurrence to its delivery: the outbox's wait, the bus, the consumer's queue. */
export const EVENT_LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] as const;

/**
 * What consumers see of their lag, per durable consumer (names fixed in code): how old each event
 * is when delivered, how many deliveries are second or later ones, and (JetStream) how many
 * messages wait behind the one delivered. A counter, a histogram and a gauge per delivery.
 */
export class ConsumerMetrics {
  private readonly lag: Histogram<'durable'> | undefined;
  private readonly redelivered: Counter<'durable'> | undefined;
  private readonly pending: Gauge<'durable'> | undefined;

  constructor(metrics?: Metrics) {
    this.lag = metrics?.histogram('agora_event_delivery_lag_seconds', 'Time from an event occurring to its delivery to a consumer, by durable consumer', ['durable'], EVENT_LAG_BUCKETS);
    this.redelivered = metrics?.counter('agora_events_redelivered_total', 'Deliveries after the first of an event (a failed or timed-out handler), by durable consumer', ['durable']);
    this.pending = metrics?.gauge('agora_event_consumer_pending_messages', 'Messages waiting for a durable consumer behind the last one it was handed (JetStream)', ['durable']);
  }

  delivered(durable: string, event: EventEnvelope, deliveries: number, pending?: number): void {
    const occurred = Date.parse(event.occurredAt);
    if (Number.isFinite(occurred)) this.lag?.observe({ durable }, Math.max(0, Date.now() - occurred) / 1000);
    if (deliveries > 1) this.redelivered?.inc({ durable });
    if (pending !== undefined) this.pending?.set({ durable }, pending);
  }
}
