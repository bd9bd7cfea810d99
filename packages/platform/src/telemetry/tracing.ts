import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_ERROR_TYPE, ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_NAMESPACE, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { ConfigError, type Env } from '@agora/kernel';

export { SpanKind, SpanStatusCode, type Attributes, type Context, type Span } from '@opentelemetry/api';

/**
 * Traces (OpenTelemetry). Off unless an exporter is configured by the standard OTEL_* variables:
 * then one tracer provider per process, W3C trace context, the AsyncLocalStorage context manager
 * (so a span started in a request is the parent of whatever that request awaits, in-process ports
 * included) and a batching OTLP/HTTP exporter. Off, every instrumented layer checks
 * {@link tracingActive} first and pays one boolean test: no span, no context lookup, no hook.
 */

/** The instrumentation scope every Agora span is created under. */
export const TRACER_NAME = 'agora';
/** `service.namespace` of every Agora process. */
export const SERVICE_NAMESPACE = 'agora';
/** Longest statement text a database span carries (parameters are never recorded). */
export const DB_STATEMENT_CHARS_MAX = 1_000;

export type TracesExporterKind = 'otlp' | 'console' | 'none';

const EXPORTERS: ReadonlySet<string> = new Set<TracesExporterKind>(['otlp', 'console', 'none']);

/**
 * Which exporter the environment asks for: OTEL_TRACES_EXPORTER when set (otlp, console or none);
 * otherwise otlp when an OTLP endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 * OTEL_EXPORTER_OTLP_ENDPOINT) is set, else none. OTEL_SDK_DISABLED=true is none whatever else says.
 */
export function tracesExporterFromEnv(env: Env): TracesExporterKind {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return 'none';
  const named = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (named !== undefined && named !== '') {
    // The SDK's variable is a list; Agora wires one exporter and says so rather than guess.
    if (!EXPORTERS.has(named)) throw new ConfigError('OTEL_TRACES_EXPORTER', `must be one of otlp, console, none; got "${named}"`);
    return named as TracesExporterKind;
  }
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return endpoint !== undefined && endpoint.trim() !== '' ? 'otlp' : 'none';
}

export interface TracingOptions {
  /** `service.name`: the Agora service (or `agora` for the one process of `agora start`). */
  service: string;
  /** `service.instance.id`. */
  instanceId: string;
  version?: string;
  env?: Env;
  /** Replaces the exporter the environment names (tests). */
  exporter?: SpanExporter;
}

export interface TracingHandle {
  readonly active: boolean;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  /** Exports what is buffered and turns tracing off for this process. */
  shutdown(): Promise<void>;
}

const INACTIVE: TracingHandle = { active: false, flush: async () => undefined, shutdown: async () => undefined };

let provider: BasicTracerProvider | undefined;
let tracer: Tracer = trace.getTracer(TRACER_NAME);

/** True once {@link startTracing} installed a provider in this process. */
export function tracingActive(): boolean {
  return provider !== undefined;
}

/**
 * Installs tracing for this process when the environment configures an exporter (see
 * {@link tracesExporterFromEnv}); otherwise does nothing and the OpenTelemetry API stays no-op.
 * Sampling follows OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (the SDK reads them; the default
 * is parentbased_always_on), batching OTEL_BSP_*, the exporter OTEL_EXPORTER_OTLP_*. One call per
 * process: a second while active is a programming error.
 */
export function startTracing(options: TracingOptions): TracingHandle {
  const env = options.env ?? process.env;
  const kind = options.exporter ? 'otlp' : tracesExporterFromEnv(env);
  if (kind === 'none') return INACTIVE;
  if (provider) throw new Error('tracing is already started in this process');
  const exporter = options.exporter ?? (kind === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter());
  const started = new BasicTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.service,
      [ATTR_SERVICE_NAMESPACE]: SERVICE_NAMESPACE,
      [ATTR_SERVICE_INSTANCE_ID]: options.instanceId,
      ...(options.version === undefined ? {} : { [ATTR_SERVICE_VERSION]: options.version }),
    }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(started);
  provider = started;
  tracer = started.getTracer(TRACER_NAME);
  return {
    active: true,
    flush: () => started.forceFlush(),
    shutdown: async () => {
      if (provider !== started) return;
      provider = undefined;
      tracer = trace.getTracer(TRACER_NAME);
      await started.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** The process's tracer (no-op while tracing is off). */
export function agoraTracer(): Tracer {
  return tracer;
}

/** The W3C carrier of a trace: what travels in HTTP headers, event envelopes and outbox rows. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** The active context as W3C headers; undefined when tracing is off or no span is active. */
export function currentTraceCarrier(active: Context = context.active()): TraceCarrier | undefined {
  if (!provider || trace.getSpan(active) === undefined) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(active, carrier);
  if (carrier.traceparent === undefined) return undefined;
  return carrier.tracestate === undefined ? { traceparent: carrier.traceparent } : { traceparent: carrier.traceparent, tracestate: carrier.tracestate };
}

/** Adds the active context's W3C headers to `headers` (nothing when tracing is off). */
export function injectTraceHeaders(headers: Record<string, string>, active: Context = context.active()): void {
  if (provider) propagation.inject(active, headers);
}

/** The context a carrier (headers, an envelope's trace) continues, over ROOT when it carries none. */
export function extractTraceContext(carrier: Record<string, unknown> | undefined, base: Context = ROOT_CONTEXT): Context {
  if (!carrier) return base;
  return propagation.extract(base, carrier, {
    get: (source, key) => {
      const value = (source as Record<string, unknown>)[key];
      if (typeof value === 'string') return value;
      return Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
    },
    keys: (source) => Object.keys(source as object),
  });
}

/** The trace and span id of the active span, for log lines; undefined when none. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  if (!provider) return undefined;
  const span = trace.getSpan(context.active());
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/** True when a span is active: layers that only trace inside a request (database, Redis) check it. */
export function hasActiveSpan(): boolean {
  return provider !== undefined && trace.getSpan(context.active()) !== undefined;
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The parent; the active context when absent. */
  parent?: Context;
  links?: Link[];
}

/** Marks a span failed by `error`: status ERROR, `error.type`, the exception as an event. */
export function recordSpanError(span: Span, error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error));
  span.recordException(err);
  span.setAttribute(ATTR_ERROR_TYPE, (err as { code?: unknown }).code !== undefined ? String((err as { code?: unknown }).code) : err.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
}

/**
 * Runs `work` inside a new span (the active span while it runs), ending it when `work` settles;
 * a throw marks the span failed and is rethrown. With tracing off it is `work()`.
 */
export async function inSpan<T>(name: string, options: SpanOptions, work: (span: Span | undefined) => Promise<T>): Promise<T> {
  if (!provider) return work(undefined);
  const parent = options.parent ?? context.active();
  const span = tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes ? { attributes: options.attributes } : {}), ...(options.links ? { links: options.links } : {}) }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    recordSpanError(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Starts a span without making it active (the caller ends it); undefined with tracing off. */
export function startSpan(name: string, options: SpanOptions = {}): Span | undefined {
  if (!provider) return undefined;
  return tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes ? { attributes: options.attributes } : {}) }, options.parent ?? context.active());
}

/** The context with `span` active over `parent` (the active context when absent). */
export function contextWithSpan(span: Span, parent: Context = context.active()): Context {
  return trace.setSpan(parent, span);
}

/** Runs `fn` with `active` as the active context. */
export function withContext<T>(active: Context, fn: () => T): T {
  return context.with(active, fn);
}
