import { describe, expect, it } from 'vitest';
import { InMemoryEventBus, Metrics, createLogger, reportCluster, reportPool, sagaMetricsObserver, type SagaLogEntry } from '../src/index.js';
import { eventually, makeEvent } from './messaging-helpers.js';

/**
 * The operator metrics where they are produced (docs/operations.md#metrics-alerts-and-dashboards):
 * gauges read at scrape time, saga timings from the saga log's entries, consumer redeliveries.
 * A checkout through the whole system is checked in test/deploy/prometheus.test.ts.
 */

const logger = createLogger('metrics-test', 'silent');

describe('Metrics.scraped: gauges read at scrape time', () => {
  it('merges sources by sum or max, and leaves out a source that throws', async () => {
    const metrics = new Metrics(false);
    metrics.scraped('agora_test_backlog_rows', 'rows', ['schema'], () => [{ labels: { schema: 'orders' }, value: 3 }]);
    metrics.scraped('agora_test_backlog_rows', 'rows', ['schema'], async () => [{ labels: { schema: 'orders' }, value: 4 }]);
    metrics.scraped('agora_test_backlog_rows', 'rows', ['schema'], () => {
      throw new Error('database gone');
    });
    const stop = metrics.scraped('agora_test_age_seconds', 'age', ['schema'], () => [{ labels: { schema: 'orders' }, value: 10 }], 'max');
    metrics.scraped('agora_test_age_seconds', 'age', ['schema'], () => [{ labels: { schema: 'orders' }, value: 25 }], 'max');
    let text = await metrics.text();
    expect(text).toContain('agora_test_backlog_rows{schema="orders"} 7');
    expect(text).toContain('agora_test_age_seconds{schema="orders"} 25');
    stop();
    text = await metrics.text();
    expect(text).toContain('agora_test_age_seconds{schema="orders"} 25');
    expect(() => metrics.scraped('agora_test_age_seconds', 'age', ['schema'], () => [], 'sum')).toThrow(/merges its sources by max/);
  });

  it('reports a pool (idle/busy, waiting, max) and stops reporting it', async () => {
    const metrics = new Metrics(false);
    const stop = reportPool(metrics, 'order', () => ({ max: 10, total: 6, idle: 2, waiting: 3 }));
    const text = await metrics.text();
    expect(text).toContain('agora_db_pool_connections{pool="order",state="idle"} 2');
    expect(text).toContain('agora_db_pool_connections{pool="order",state="busy"} 4');
    expect(text).toContain('agora_db_pool_waiting_requests{pool="order"} 3');
    expect(text).toContain('agora_db_pool_max_connections{pool="order"} 10');
    stop();
    expect(await metrics.text()).not.toContain('pool="order"');
  });

  it('reports heartbeat ages, instances per state and one breaker state per instance; a departed instance has no series', async () => {
    const metrics = new Metrics(false);
    let instances = [
      { service: 'order', instanceId: 'order-a', state: 'up' as const, lastSeenAt: new Date(9_000) },
      { service: 'order', instanceId: 'order-b', state: 'suspect' as const, lastSeenAt: new Date(4_000) },
    ];
    reportCluster(metrics, { instances: () => instances, breakers: () => [{ service: 'order', instanceId: 'order-b', url: 'http://127.0.0.1:1', state: 'open', consecutiveFailures: 5 }] }, () => 10_000);
    let text = await metrics.text();
    expect(text).toContain('agora_discovery_heartbeat_age_seconds{service="order",instance_id="order-a"} 1');
    expect(text).toContain('agora_discovery_heartbeat_age_seconds{service="order",instance_id="order-b"} 6');
    expect(text).toContain('agora_discovery_instances{service="order",state="suspect"} 1');
    expect(text).toContain('agora_discovery_instances{service="order",state="down"} 0');
    expect(text).toContain('agora_service_breaker_state{service="order",instance_id="order-b",state="open"} 1');
    expect(text).toContain('agora_service_breaker_state{service="order",instance_id="order-b",state="closed"} 0');
    instances = instances.slice(0, 1);
    text = await metrics.text();
    expect(text).not.toContain('agora_discovery_heartbeat_age_seconds{service="order",instance_id="order-b"}');
  });
});

describe('saga metrics from the saga log', () => {
  it('times each step from the entry before it, and a settled saga from its creation, once', async () => {
    const metrics = new Metrics(false);
    let now = 1_000;
    const observe = sagaMetricsObserver(metrics, () => now);
    const createdAt = new Date(0);
    const entry = (at: number, e: Omit<SagaLogEntry, 'sagaId' | 'saga' | 'createdAt'>): void => {
      now = at;
      observe({ sagaId: 's1', saga: 'checkout', createdAt, ...e });
    };
    entry(1_000, { status: 'RUNNING', durable: true });
    entry(1_100, { status: 'RUNNING', durable: true, previous: 'RUNNING', step: { name: 'reserveStock', phase: 'run', status: 'STARTED', attempt: 1 } });
    entry(1_300, { status: 'RUNNING', durable: true, previous: 'RUNNING', step: { name: 'reserveStock', phase: 'run', status: 'DONE', attempt: 1 } });
    entry(1_400, { status: 'RUNNING', durable: false, step: { name: 'authorizePayment', phase: 'run', status: 'RETRYING', attempt: 1 } });
    entry(2_000, { status: 'COMPLETED', durable: true, previous: 'RUNNING', step: { name: 'confirm', phase: 'run', status: 'DONE', attempt: 1 } });
    // onFinished's write after it: same status, not a second settling.
    entry(2_100, { status: 'COMPLETED', durable: true, previous: 'COMPLETED' });
    const text = await metrics.text();
    expect(text).toContain('agora_saga_step_duration_seconds_sum{saga="checkout",step="reserveStock",phase="run",outcome="done"} 0.2');
    expect(text).toContain('agora_saga_step_duration_seconds_count{saga="checkout",step="authorizePayment",phase="run",outcome="retried"} 1');
    expect(text).toContain('agora_saga_step_duration_seconds_sum{saga="checkout",step="confirm",phase="run",outcome="done"} 0.6');
    expect(text).toContain('agora_saga_duration_seconds_count{saga="checkout",outcome="completed"} 1');
    expect(text).toContain('agora_saga_duration_seconds_sum{saga="checkout",outcome="completed"} 2');
  });
});

describe('consumer metrics', () => {
  it('counts a redelivery and observes the delivery lag of each delivery', async () => {
    const metrics = new Metrics(false);
    const bus = new InMemoryEventBus({ logger, metrics });
    let calls = 0;
    await bus.subscribe({
      durable: 'metrics-test',
      types: ['test.happened'],
      retryDelayMs: 1,
      handler: async () => {
        calls++;
        if (calls === 1) throw new Error('first delivery fails');
      },
    });
    await bus.publish(makeEvent('test.happened'));
    await eventually(() => calls === 2, 'the event delivered twice');
    const text = await metrics.text();
    expect(text).toContain('agora_events_redelivered_total{durable="metrics-test"} 1');
    expect(text).toContain('agora_event_delivery_lag_seconds_count{durable="metrics-test"} 2');
    await bus.close();
  });
});
