import { Histogram, type Counter } from 'prom-client';
import type { Metrics } from '../telemetry/metrics.js';

/** How a service call ended, as the `outcome` label. */
export type ServiceCallOutcome = 'ok' | 'client_error' | 'server_error' | 'unavailable' | 'rejected';

export interface ServiceCallMetrics {
  /** `agora_service_call_duration_seconds{service,outcome}`: whole calls, retries included. */
  duration: Histogram<'service' | 'outcome'>;
  /** `agora_service_call_retries_total{service}` */
  retries: Counter<'service'>;
  /** `agora_service_breaker_opens_total{service}` */
  breakerOpens: Counter<'service'>;
}

const DURATION = 'agora_service_call_duration_seconds';

/** The service-call metrics in `metrics`' registry, created once per registry. */
export function serviceCallMetrics(metrics: Metrics): ServiceCallMetrics {
  const existing = metrics.registry.getSingleMetric(DURATION);
  const duration =
    (existing as Histogram<'service' | 'outcome'> | undefined) ??
    new Histogram({
      name: DURATION,
      help: 'Service-to-service call latency, retries included, by callee and outcome',
      labelNames: ['service', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [metrics.registry],
    });
  return {
    duration,
    retries: metrics.counter('agora_service_call_retries_total', 'Service calls sent again after a failed attempt', ['service']),
    breakerOpens: metrics.counter('agora_service_breaker_opens_total', 'Times a circuit breaker of an instance opened', ['service']),
  };
}

export function outcomeOfStatus(status: number): ServiceCallOutcome {
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'client_error';
  return 'ok';
}
