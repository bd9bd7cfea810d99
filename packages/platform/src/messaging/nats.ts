import { WakeablePause } from './pause.js';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { events } from '@agora/contracts';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import {
  BUS_DEFAULTS,
  ConsumerMetrics,
  DeadLetterReporter,
  parseEnvelope,
  resolveSubscribeOptions,
  retryDelay,
  serializeEvent,
  type EventBus,
  type ResolvedSubscribeOptions,
  type SubscribeOptions,
  type Subscription,
} from './bus.js';

type EventEnvelope = events.EventEnvelope;

export interface NatsEventBusOptions {
  /** One server URL or several (a cluster). */
  url: string | string[];
  /** JetStream stream holding every event. */
  stream?: string;
  /** Subjects are `<subjectPrefix>.<type>`; the stream captures `<subjectPrefix>.>`. */
  subjectPrefix?: string;
  logger: Logger;
  metrics?: Metrics;
  /** The stream's duplicate window: a publish with a known event id inside it is dropped. */
  duplicateWindowMs?: number;
  /** How long the stream keeps events; a new durable consumer starts from the oldest one kept. */
  maxAgeMs?: number;
  /** How long a publish waits for the stream's acknowledgement. */
  publishTimeoutMs?: number;
  /** Events a subscriber pulls ahead of its handler. */
  pullBatch?: number;
  /** Connection name shown in the server's monitoring. */
  name?: string;
  /**
   * Servers that keep a copy of the stream (its own Raft group in a NATS cluster); 1 for a single
   * server, 3 (or 5) in production so an acknowledged event survives losing a minority of them.
   */
  replicas?: number;
}

export const NATS_BUS_DEFAULTS = {
  stream: 'AGORA_EVENTS',
  subjectPrefix: 'agora.events',
  maxAgeMs: 7 * 24 * 3_600_000,
  publishTimeoutMs: 5_000,
  pullBatch: 10,
  /** A pull request's lifetime; its idle heartbeat (half of it) is how fast a silent server is noticed. */
  pullExpiresMs: 10_000,
  /** A stream's copies: JetStream accepts 1 to 5. */
  maxReplicas: 5,
  reconnectTimeWaitMs: 1_000,
  resubscribeDelayMs: 1_000,
} as const;

/**
 * Connects to NATS (reconnecting forever after a loss) and creates or updates the event stream.
 * Fails when the server does not answer at start: a misconfigured cluster stops with a clear error.
 */
export async function connectNatsEventBus(options: NatsEventBusOptions): Promise<NatsEventBus> {
  const nc = await connect({
    servers: options.url,
    name: options.name ?? 'agora',
    maxReconnectAttempts: -1,
    reconnectTimeWait: NATS_BUS_DEFAULTS.reconnectTimeWaitMs,
  });
  try {
    const jsm = await jetstreamManager(nc);
    const bus = new NatsEventBus(nc, jsm, options);
    await bus.ensureStream();
    return bus;
  } catch (err) {
    await nc.close();
    throw err;
  }
}

function streamReplicas(replicas: number | undefined): number {
  const value = replicas ?? 1;
  if (!Number.isInteger(value) || value < 1 || value > NATS_BUS_DEFAULTS.maxReplicas) {
    throw new RangeError(`stream replicas must be an integer 1..${NATS_BUS_DEFAULTS.maxReplicas}, got ${value}`);
  }
  return value;
}

/**
 * The event bus on NATS JetStream. One stream holds every event (subject `<prefix>.<type>`); a
 * publish carries the event id as its message id, so the stream's duplicate window drops a second
 * publish. Each durable name is one durable pull consumer with explicit acks.
 *
 * NATS 2.9 has no `filter_subjects` (several filters per consumer arrived in 2.10), so a consumer
 * takes one `filter_subject`: the exact subject for one type, else the narrowest wildcard covering
 * all its types, and the subscriber acks events of other types under that wildcard unseen.
 */
export class NatsEventBus implements EventBus {
  readonly stream: string;
  readonly subjectPrefix: string;
  private readonly js: JetStreamClient;
  private readonly logger: Logger;
  private readonly deadLetters: DeadLetterReporter;
  private readonly consumers: ConsumerMetrics;
  private readonly streamConfig: Partial<StreamConfig> & { name: string; subjects: string[] };
  private readonly publishTimeoutMs: number;
  private readonly pullBatch: number;
  private readonly subscriptions = new Set<NatsSubscription>();
  private readonly statusWatch: Promise<void>;
  private closing: Promise<void> | undefined;

  /** Use {@link connectNatsEventBus}. */
  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    options: NatsEventBusOptions,
  ) {
    this.stream = options.stream ?? NATS_BUS_DEFAULTS.stream;
    this.subjectPrefix = options.subjectPrefix ?? NATS_BUS_DEFAULTS.subjectPrefix;
    this.js = jetstream(nc);
    this.logger = options.logger;
    this.deadLetters = new DeadLetterReporter(options.logger, options.metrics);
    this.consumers = new ConsumerMetrics(options.metrics);
    this.publishTimeoutMs = options.publishTimeoutMs ?? NATS_BUS_DEFAULTS.publishTimeoutMs;
    this.pullBatch = options.pullBatch ?? NATS_BUS_DEFAULTS.pullBatch;
    this.streamConfig = {
      name: this.stream,
      subjects: [`${this.subjectPrefix}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: streamReplicas(options.replicas),
      duplicate_window: nanos(options.duplicateWindowMs ?? BUS_DEFAULTS.duplicateWindowMs),
      max_age: nanos(options.maxAgeMs ?? NATS_BUS_DEFAULTS.maxAgeMs),
    };
    this.statusWatch = this.watchConnection().catch((err: unknown) => this.logger.warn({ err }, 'NATS status watch ended'));
  }

  subjectOf(type: string): string {
    return `${this.subjectPrefix}.${type}`;
  }

  async publish(event: EventEnvelope): Promise<void> {
    if (this.closing) throw new Error('event bus is closed');
    const json = serializeEvent(event);
    const ack = await this.js.publish(this.subjectOf(event.type), json, {
      msgID: event.id,
      timeout: this.publishTimeoutMs,
      expect: { streamName: this.stream },
    });
    if (ack.duplicate) this.logger.debug({ eventId: event.id, eventType: event.type }, 'duplicate publish dropped by the stream');
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.closing) throw new Error('event bus is closed');
    const resolved = resolveSubscribeOptions(options);
    await this.ensureConsumer(resolved);
    const subscription = new NatsSubscription(this.subscriptionContext(), resolved, () => this.subscriptions.delete(subscription));
    await subscription.start();
    this.subscriptions.add(subscription);
    return subscription;
  }

  async ping(): Promise<void> {
    if (this.nc.isClosed() || this.closing) throw new Error('event bus is closed');
    await this.jsm.streams.info(this.stream);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.subscriptions].map((s) => s.stop()));
      if (!this.nc.isClosed()) await this.nc.drain();
      await this.statusWatch;
    })();
    return this.closing;
  }

  /** Events dead-lettered by this bus instance since it started. */
  deadLetterCount(): number {
    return this.deadLetters.total();
  }

  /** Creates the stream, or brings an existing one to this configuration. Safe to run concurrently. */
  async ensureStream(): Promise<void> {
    const info = await this.jsm.streams.info(this.stream).catch((err: unknown) => {
      if (isApiError(err, JetStreamApiCodes.StreamNotFound)) return undefined;
      throw err;
    });
    if (!info) {
      try {
        await this.jsm.streams.add(this.streamConfig);
        this.logger.info({ stream: this.stream, subjects: this.streamConfig.subjects }, 'event stream created');
        return;
      } catch (err) {
        // Another instance may have created it first, possibly with other settings: reconcile.
        const raced = await this.jsm.streams.info(this.stream).then(
          () => true,
          () => false,
        );
        if (!raced) throw err;
        this.logger.debug({ stream: this.stream, err }, 'event stream create raced; reconciling');
        return this.ensureStream();
      }
    }
    const current = info.config;
    const wanted = this.streamConfig;
    if (
      current.subjects?.join(' ') !== wanted.subjects.join(' ') ||
      current.duplicate_window !== wanted.duplicate_window ||
      current.max_age !== wanted.max_age
    ) {
      await this.jsm.streams.update(this.stream, { subjects: wanted.subjects, duplicate_window: wanted.duplicate_window, max_age: wanted.max_age });
      this.logger.info({ stream: this.stream }, 'event stream configuration updated');
    }
  }

  /** Creates the durable consumer, or updates its filter and limits in place (cursor and acks kept). */
  async ensureConsumer(options: Omit<ResolvedSubscribeOptions, 'handler'>): Promise<void> {
    const wanted: Partial<ConsumerConfig> = {
      durable_name: options.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      filter_subject: filterSubjectFor(this.subjectPrefix, options.types),
      ack_wait: nanos(options.ackWaitMs),
      // One more than the handler may see: a delivery past the limit (earlier ones timed out) is
      // reported as a dead letter by the client instead of vanishing silently on the server.
      max_deliver: options.maxDeliver + 1,
    };
    const info = await this.jsm.consumers.info(this.stream, options.durable).catch((err: unknown) => {
      if (isApiError(err, JetStreamApiCodes.ConsumerNotFound)) return undefined;
      throw err;
    });
    if (!info) {
      await this.jsm.consumers.add(this.stream, wanted);
      return;
    }
    const current = info.config;
    if (current.filter_subject !== wanted.filter_subject || current.ack_wait !== wanted.ack_wait || current.max_deliver !== wanted.max_deliver) {
      await this.jsm.consumers.update(this.stream, options.durable, {
        filter_subject: wanted.filter_subject,
        ack_wait: wanted.ack_wait,
        max_deliver: wanted.max_deliver,
      });
      this.logger.info({ durable: options.durable, filter: wanted.filter_subject }, 'durable consumer updated');
    }
  }

  private subscriptionContext(): SubscriptionContext {
    return {
      logger: this.logger,
      deadLetters: this.deadLetters,
      consumers: this.consumers,
      open: async (durable) => {
        const consumer = await this.js.consumers.get(this.stream, durable);
        return consumer.consume({ max_messages: this.pullBatch, expires: NATS_BUS_DEFAULTS.pullExpiresMs });
      },
      flush: () => (this.nc.isClosed() ? Promise.resolve() : this.nc.flush()),
      isClosed: () => this.nc.isClosed(),
      recreate: async (options) => {
        await this.ensureStream();
        await this.ensureConsumer(options);
      },
    };
  }

  private async watchConnection(): Promise<void> {
    for await (const status of this.nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this.logger.warn({ server: status.server }, 'NATS connection lost; reconnecting');
          break;
        case 'reconnect':
          this.logger.info({ server: status.server }, 'NATS connection restored');
          break;
        case 'error':
          this.logger.error({ err: status.error }, 'NATS connection error');
          break;
        default:
          this.logger.debug({ status: status.type }, 'NATS status');
      }
    }
  }
}

/** What a subscription needs of its bus, and nothing more. */
interface SubscriptionContext {
  logger: Logger;
  deadLetters: DeadLetterReporter;
  consumers: ConsumerMetrics;
  open(durable: string): Promise<ConsumerMessages>;
  flush(): Promise<void>;
  isClosed(): boolean;
  /** Creates the stream and the durable consumer again (the server lost them). */
  recreate(options: Omit<ResolvedSubscribeOptions, 'handler'>): Promise<void>;
}

/** One subscriber of a durable: a consume loop over a pull consumer, restarted after fatal errors. */
class NatsSubscription implements Subscription {
  private messages: ConsumerMessages | undefined;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly pauser = new WakeablePause();
  private readonly types: Set<string>;
  private repairing: Promise<void> | undefined;

  constructor(
    private readonly ctx: SubscriptionContext,
    private readonly options: ResolvedSubscribeOptions,
    private readonly onStopped: () => void,
  ) {
    this.types = new Set(options.types);
  }

  async start(): Promise<void> {
    this.messages = await this.ctx.open(this.options.durable);
    this.loop = this.run(this.messages);
  }

  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.pauser.wake();
      // Stopping the iterator lets it yield what it already buffered: those are handed back (nak).
      this.messages?.stop();
    }
    await this.loop;
    await this.ctx.flush();
    this.onStopped();
  }

  private async run(first: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | undefined = first;
    const logger = this.ctx.logger;
    while (!this.stopping) {
      try {
        messages ??= await this.ctx.open(this.options.durable);
        this.messages = messages;
        if (this.stopping) messages.stop();
        this.watch(messages).catch((err: unknown) => logger.warn({ durable: this.options.durable, err }, 'event consumer notifications ended'));
        const handBack: JsMsg[] = [];
        for await (const msg of messages) {
          if (this.stopping) handBack.push(msg);
          else await this.handle(msg);
        }
        if (handBack.length > 0) await this.handBack(handBack);
        if (!this.stopping) logger.warn({ durable: this.options.durable }, 'event consumer ended; resubscribing');
      } catch (err) {
        if (this.stopping) break;
        if (this.ctx.isClosed()) {
          logger.error({ durable: this.options.durable, err }, 'event consumer stopped: the NATS connection is closed');
          break;
        }
        logger.error({ durable: this.options.durable, err }, 'event consumer failed; resubscribing');
      }
      messages = undefined;
      if (!this.stopping) await this.pauser.sleep(NATS_BUS_DEFAULTS.resubscribeDelayMs);
      if (!this.stopping) await this.repair();
    }
  }

  private async handle(msg: JsMsg): Promise<void> {
    const { durable, maxDeliver, ackWaitMs, retryDelayMs, handler } = this.options;
    const deliveries = msg.info.deliveryCount;
    let event: EventEnvelope | undefined;
    try {
      event = parseEnvelope(msg.json());
    } catch (err) {
      this.ctx.logger.error({ durable, subject: msg.subject, err }, 'event message is not JSON');
    }
    if (!event) {
      this.ctx.deadLetters.report({ durable, event: undefined, deliveries, reason: `malformed event on ${msg.subject}` });
      msg.term('malformed event');
      return;
    }
    if (!this.types.has(event.type)) {
      msg.ack();
      return;
    }
    if (deliveries > maxDeliver) {
      this.ctx.deadLetters.report({ durable, event, deliveries: deliveries - 1, reason: `not acknowledged within ${ackWaitMs} ms` });
      msg.term('max deliveries');
      return;
    }
    this.ctx.consumers.delivered(durable, event, deliveries, msg.info.pending);
    try {
      await handler(event);
    } catch (err) {
      if (deliveries >= maxDeliver) {
        this.ctx.deadLetters.report({ durable, event, deliveries, reason: err instanceof Error ? err.message : String(err) });
        msg.term('max deliveries');
      } else {
        const delayMs = retryDelay(retryDelayMs, deliveries);
        this.ctx.logger.warn({ durable, eventId: event.id, eventType: event.type, deliveries, retryInMs: delayMs, err }, 'event handler failed; will redeliver');
        msg.nak(delayMs);
      }
      return;
    }
    msg.ack();
  }

  /**
   * Naks what this subscriber pulled but will not handle, so the group gets it now rather than after
   * the ack wait. Only after a flush: by then the server has seen the unsubscribe and the last pull
   * requests of this subscriber; a nak before that is redelivered straight into one of those dead
   * pull requests (observed on 2.9.10) and the event then waits out the whole ack wait.
   */
  private async handBack(messages: JsMsg[]): Promise<void> {
    await this.ctx.flush();
    for (const msg of messages) msg.nak();
    this.ctx.logger.debug({ durable: this.options.durable, count: messages.length }, 'unhandled events handed back to the group');
  }

  /** Recreates the stream and consumer when the server lost them (e.g. restarted without its store). */
  private async watch(messages: ConsumerMessages): Promise<void> {
    for await (const note of messages.status()) {
      if (note.type === 'consumer_not_found' || note.type === 'stream_not_found') {
        this.ctx.logger.warn({ durable: this.options.durable, notification: note.type }, 'event consumer missing on the server; recreating');
        await this.repair();
      }
    }
  }

  private repair(): Promise<void> {
    this.repairing ??= (async () => {
      try {
        await this.ctx.recreate(this.options);
      } catch (err) {
        this.ctx.logger.warn({ durable: this.options.durable, err }, 'could not recreate the event consumer yet');
      } finally {
        this.repairing = undefined;
      }
    })();
    return this.repairing;
  }


}

/**
 * The one filter subject a 2.9 consumer may have: exact for a single type, else the longest common
 * token prefix with `>` (which needs at least one more token, hence the strict bound).
 */
export function filterSubjectFor(prefix: string, types: readonly string[]): string {
  const [only] = types;
  if (types.length === 1 && only !== undefined) return `${prefix}.${only}`;
  const split = types.map((t) => t.split('.'));
  const shortest = Math.min(...split.map((tokens) => tokens.length));
  const common: string[] = [];
  for (let i = 0; i < shortest - 1; i++) {
    const token = split[0]?.[i];
    if (token === undefined || !split.every((tokens) => tokens[i] === token)) break;
    common.push(token);
  }
  return common.length > 0 ? `${prefix}.${common.join('.')}.>` : `${prefix}.>`;
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}
