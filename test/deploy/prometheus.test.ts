import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterServersAvailable, sleep, startTestCluster, type TestCluster } from '../cluster/support.js';
import { DASHBOARD, RULE_FILES, dashboardQueries, exportedNames, readRules, recordedNames, ruleQueries, unknownMetrics } from './promql.js';
import { prometheusInstalled, startPrometheus, type RunningPrometheus } from './prometheus-server.js';

/**
 * Prometheus for real (docs/operations.md#metrics-alerts-and-dashboards): Debian's prometheus with
 * the shipped prometheus.yml and rules against a multi-process cluster after a checkout. Every
 * target (the gateway statically, each service instance through the gateway's HTTP service
 * discovery) is up, the key series exist, the recording rules evaluate; and every metric the
 * dashboard and the rules name is one the cluster's processes export.
 */

const ADMIN = { email: 'prometheus-admin@test.agora', password: 'prometheus-admin-password-1' };
const SERVICES = { identity: 1, catalog: 1, inventory: 1, cart: 1, payment: 1, order: 1 } as const;
const TARGETS = 1 + Object.values(SERVICES).reduce((a, b) => a + b, 0);
/** Waiting for scrapes and rule evaluations (1 s intervals) on a busy machine. */
const SCRAPE_WAIT_MS = 90_000;

describe.runIf(prometheusInstalled() && (await clusterServersAvailable()))('Prometheus against a running cluster', () => {
  let tc: TestCluster;
  let prometheus: RunningPrometheus | undefined;

  const api = async (method: string, path: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${tc.gateway}${path}`, {
      method,
      headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
  };

  /** Polls until `check` passes (it throws until then), or fails with its last error. */
  const eventually = async (check: () => Promise<void>): Promise<void> => {
    const deadline = Date.now() + SCRAPE_WAIT_MS;
    for (;;) {
      try {
        return await check();
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`${String(err)}\n--- prometheus output ---\n${prometheus?.output() ?? ''}`);
        await sleep(1_000);
      }
    }
  };

  beforeAll(async () => {
    tc = await startTestCluster({ gateways: 1, services: SERVICES, admin: ADMIN, connections: 14 });
    const token = tc.cluster.adminToken;
    const sku = `PROM-${randomUUID().slice(0, 8)}`;
    const product = await api('POST', '/api/v1/admin/products', token, { name: 'Scraped item', description: 'one', category: 'metrics', variants: [{ sku, title: 'One', price: { amount: 1_500, currency: 'USD' } }] });
    expect(product.status, JSON.stringify(product.body)).toBe(201);
    expect((await api('PUT', `/api/v1/admin/inventory/${sku}`, token, { onHand: 5 })).status).toBe(200);
    const shopper = await api('POST', '/api/v1/auth/register', undefined, { email: `prom-${randomUUID().slice(0, 8)}@test.agora`, password: 'prometheus-shopper-1', name: 'Scraper' });
    expect(shopper.status).toBe(201);
    const shopperToken = shopper.body.token as string;
    expect((await api('POST', '/api/v1/cart/items', shopperToken, { sku, quantity: 2 })).status).toBe(200);
    const checkout = await api(
      'POST',
      '/api/v1/checkout',
      shopperToken,
      { payment: { method: 'card', token: 'tok_visa' }, shippingAddress: { name: 'Sam', line1: '1 Scrape St', city: 'Porto', postalCode: '4000', country: 'PT' } },
      { 'idempotency-key': randomUUID() },
    );
    expect([201, 202], JSON.stringify(checkout.body)).toContain(checkout.status);
    const orderId = checkout.body.id as string;
    await eventually(async () => expect((await api('GET', `/api/v1/orders/${orderId}`, shopperToken)).body.status).toBe('CONFIRMED'));
  }, 420_000);

  afterAll(async () => {
    await prometheus?.stop();
    await tc?.stop();
  }, 120_000);

  it('every member exports the metrics the dashboard and the rules query (after a checkout)', async () => {
    const texts = await Promise.all(tc.cluster.all().map(async (m) => ({ id: m.instanceId, text: await (await fetch(`${m.url ?? ''}/metrics`)).text() })));
    const order = texts.find((t) => t.id.startsWith('order'))?.text ?? '';
    // The checkout's saga, step by step, and the order that entered PENDING then CONFIRMED.
    expect(order).toMatch(/agora_saga_step_duration_seconds_count\{saga="checkout",step="reserveStock",phase="run",outcome="done"\} 1/);
    expect(order).toMatch(/agora_saga_duration_seconds_count\{saga="checkout",outcome="completed"\} 1/);
    expect(order).toMatch(/agora_orders_total\{status="PENDING"\} 1/);
    expect(order).toMatch(/agora_orders_total\{status="CONFIRMED"\} 1/);
    const inventory = texts.find((t) => t.id.startsWith('inventory'))?.text ?? '';
    expect(inventory).toMatch(/agora_inventory_stock_units_total\{movement="reserve"\} 2/);
    expect(inventory).toMatch(/agora_inventory_stock_units_total\{movement="commit"\} 2/);
    expect(inventory).toMatch(/agora_inventory_overdue_reservations 0/);
    expect(inventory).toMatch(/agora_db_pool_connections\{pool="inventory",state="idle"\}/);
    const gateway = texts.find((t) => t.id.startsWith('gateway'))?.text ?? '';
    expect(gateway).toMatch(/agora_discovery_heartbeat_age_seconds\{service="order",instance_id="[^"]+"\}/);
    expect(gateway).toMatch(/agora_service_breaker_state\{service="order",instance_id="[^"]+",state="closed"\} 1/);
    expect(gateway).toMatch(/agora_nodejs_eventloop_lag_p99_seconds/);

    const exported = new Set(texts.flatMap((t) => [...exportedNames(t.text)]));
    const rules = RULE_FILES.map(readRules);
    const queries = [...dashboardQueries(JSON.parse(readFileSync(DASHBOARD, 'utf8'))), ...ruleQueries(rules)];
    expect(queries.length).toBeGreaterThan(30);
    expect(unknownMetrics(queries, exported, recordedNames(rules))).toEqual([]);
  });

  it('scrapes every member (the services through the gateway\'s service discovery) and evaluates the rules', async () => {
    prometheus = await startPrometheus(tc.gateway);
    const running = prometheus;
    await eventually(async () => {
      const targets = await running.targets();
      const jobs = targets.map((t) => `${t.labels.job} ${t.health} ${t.lastError}`).sort();
      expect(targets.length, jobs.join('\n')).toBe(TARGETS);
      expect(targets.every((t) => t.health === 'up'), jobs.join('\n')).toBe(true);
    });
    const up = await running.query('up');
    expect(up.map((s) => s.metric.job).sort()).toEqual(['cart', 'catalog', 'gateway', 'identity', 'inventory', 'order', 'payment']);
    expect(up.every((s) => s.value[1] === '1')).toBe(true);
    for (const expr of [
      'agora_orders_total{job="order",status="CONFIRMED"}',
      'agora_saga_step_duration_seconds_count{job="order",saga="checkout"}',
      'agora_outbox_oldest_unpublished_age_seconds{job="order"}',
      'agora_inventory_stock_units_total{job="inventory"}',
      'agora_discovery_heartbeat_age_seconds{job="gateway"}',
      'agora_service_breaker_state{job="gateway"}',
      'agora_db_pool_connections{job="payment"}',
      'agora_nodejs_eventloop_lag_p99_seconds{job="catalog"}',
    ]) {
      await eventually(async () => expect((await running.query(expr)).length, expr).toBeGreaterThan(0));
    }
    // A recording rule's output: the rules loaded and evaluate on the scraped series.
    await eventually(async () => expect((await running.query('service:agora_http_requests:rate5m')).length).toBeGreaterThan(0));
  }, 180_000);
});
