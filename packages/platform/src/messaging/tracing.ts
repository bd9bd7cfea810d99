import type { events } from '@agora/contracts';
import { SpanKind, currentTraceCarrier, extractTraceContext, inSpan, tracingActive } from '../telemetry/tracing.js';
import { context } from '@opentelemetry/api';
import type { EventBus, SubscribeOptions, Subscription } from './bus.js';

type EventEnvelope = events.EventEnvelope;

/** Messaging attributes of OpenTelemetry's conventions (still incubating there, so named here). */
export const MESSAGING_ATTRIBUTES = {
  system: 'messaging.system',
  destination: 'messaging.destination.name',
  operationType: 'messaging.operation.type',
  messageId: 'messaging.message.id',
  consumerGroup: 'messaging.consumer.group.name',
} as const;

/**
 * Spans around an event bus. A publish is a PRODUCER span `publish <type>` whose parent is the
 * trace the event carries (an outbox row keeps the trace of the transaction that wrote it, so the
 * relay, running later and elsewhere, continues it), else the active span; the event leaves with
 * the publish span's context in `traceContext`. Handling is a CONSUMER span `process <type>`,
 * child of that publish span: one trace from the request that made a fact to every consumer of it.
 */
export class TracingEventBus implements EventBus {
  constructor(
    private readonly inner: EventBus,
    /** `messaging.system`: `nats` or `in-memory`. */
    private readonly system: string,
  ) {}

  publish(event: EventEnvelope): Promise<void> {
    const parent = event.traceContext ? extractTraceContext(event.traceContext, context.active()) : context.active();
    return inSpan(
      `publish ${event.type}`,
      {
        kind: SpanKind.PRODUCER,
        parent,
        attributes: {
          [MESSAGING_ATTRIBUTES.system]: this.system,
          [MESSAGING_ATTRIBUTES.destination]: event.type,
          [MESSAGING_ATTRIBUTES.operationType]: 'send',
          [MESSAGING_ATTRIBUTES.messageId]: event.id,
        },
      },
      () => {
        const carrier = currentTraceCarrier();
        return this.inner.publish(carrier === undefined ? event : { ...event, traceContext: carrier });
      },
    );
  }

  subscribe(options: SubscribeOptions): Promise<Subscription> {
    const { handler } = options;
    return this.inner.subscribe({
      ...options,
      handler: (event) =>
        inSpan(
          `process ${event.type}`,
          {
            kind: SpanKind.CONSUMER,
            parent: extractTraceContext(event.traceContext),
            attributes: {
              [MESSAGING_ATTRIBUTES.system]: this.system,
              [MESSAGING_ATTRIBUTES.destination]: event.type,
              [MESSAGING_ATTRIBUTES.operationType]: 'process',
              [MESSAGING_ATTRIBUTES.messageId]: event.id,
              [MESSAGING_ATTRIBUTES.consumerGroup]: options.durable,
            },
          },
          () => handler(event),
        ),
    });
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** `bus` with publish and consume spans while tracing is on; the bus itself otherwise (no cost). */
export function traceBus(bus: EventBus, system: string): EventBus {
  return tracingActive() ? new TracingEventBus(bus, system) : bus;
}
