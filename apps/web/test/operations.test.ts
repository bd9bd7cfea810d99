import { describe, expect, it } from 'vitest';
import { normalizeCluster } from '../src/admin/cluster';
import { pointBetween, scrape, snapshot } from '../src/admin/opsModel';
import { bucketDelta, histogramQuantile, parsePrometheus, rate } from '../src/admin/prometheus';

const METRICS = (requests: number, fast: number, slow: number, checkouts: { ok: number; declined: number }, held: number) => `
# HELP agora_http_requests_total HTTP requests by service, route and status
# TYPE agora_http_requests_total counter
agora_http_requests_total{service="gateway",method="GET",route="/api/v1/products",status="200"} ${requests}
agora_http_requests_total{service="gateway",method="GET",route="/metrics",status="200"} 999
agora_http_requests_total{service="catalog",method="GET",route="/products",status="200"} ${requests}
agora_http_requests_total{service="gateway",method="POST",route="/api/v1/checkout",status="201"} ${checkouts.ok}
agora_http_requests_total{service="gateway",method="POST",route="/api/v1/checkout",status="402"} ${checkouts.declined}
agora_http_request_duration_seconds_bucket{le="0.005",service="gateway",method="GET",route="/api/v1/products",status="200"} ${fast}
agora_http_request_duration_seconds_bucket{le="0.1",service="gateway",method="GET",route="/api/v1/products",status="200"} ${fast + slow}
agora_http_request_duration_seconds_bucket{le="+Inf",service="gateway",method="GET",route="/api/v1/products",status="200"} ${fast + slow}
agora_inventory_reservations_total{event="held"} ${held}
agora_process_resident_memory_bytes 104857600
agora_nodejs_version_info{version="v20.20.2",major="20"} 1
`;

describe('Prometheus text', () => {
  it('parses names, labels (with escapes) and special values', () => {
    const samples = parsePrometheus('a_total{x="1",y="q\\"uote"} 3\nb 1.5e3 1700000000\n# c 1\nc_bucket{le="+Inf"} +Inf\n');
    expect(samples).toEqual([
      { name: 'a_total', labels: { x: '1', y: 'q"uote' }, value: 3 },
      { name: 'b', labels: {}, value: 1500 },
      { name: 'c_bucket', labels: { le: '+Inf' }, value: Number.POSITIVE_INFINITY },
    ]);
  });

  it('computes quantiles like histogram_quantile and rates across resets', () => {
    const cumulative = [
      { le: 0.01, count: 90 },
      { le: 0.1, count: 100 },
      { le: Number.POSITIVE_INFINITY, count: 100 },
    ];
    expect(histogramQuantile(0.5, cumulative)).toBeCloseTo(0.005 * (50 / 45), 6);
    expect(histogramQuantile(0.99, cumulative)).toBeCloseTo(0.01 + 0.09 * 0.9, 6);
    expect(histogramQuantile(0.99, [{ le: 1, count: 0 }])).toBeUndefined();
    expect(bucketDelta([{ le: 1, count: 5 }], [{ le: 1, count: 8 }])).toEqual([{ le: 1, count: 3 }]);
    expect(rate(10, 40, 3)).toBe(10);
    expect(rate(100, 6, 3)).toBe(2);
  });
});

describe('operations model', () => {
  it('turns two scrapes into request rate, p99, checkouts and stock movements, leaving out its own polling', () => {
    const before = scrape(METRICS(100, 100, 0, { ok: 1, declined: 0 }, 4), 0);
    const after = scrape(METRICS(130, 120, 10, { ok: 3, declined: 1 }, 10), 3_000);
    const point = pointBetween(before, after);
    // 30 product reads + 2 confirmed + 1 declined checkout in 3 s; /metrics and the catalog service are not counted.
    expect(point.requestRate).toBeCloseTo(33 / 3, 6);
    expect(point.p99Ms).toBeGreaterThan(5);
    expect(point.p99Ms).toBeLessThanOrEqual(100);
    expect(point.p50Ms).toBeLessThanOrEqual(5);
    expect(point.checkoutsOk).toBeCloseTo(40, 6);
    expect(point.checkoutsFailed).toBeCloseTo(20, 6);
    expect(point.stock.held).toBeCloseTo(120, 6);
    const snap = snapshot(after);
    expect(snap.totals).toMatchObject({ checkoutsOk: 3, checkoutsFailed: 1, residentMb: 100 });
    expect(snap.checkoutSource).toBe('gateway');
    expect(snap.stockEvents).toEqual(['held']);
  });

  it('counts checkouts answered 202 (payment settling later) with the confirmed ones when only the gateway is scraped', () => {
    const text = (created: number, accepted: number) =>
      `agora_http_requests_total{service="gateway",method="POST",route="/api/v1/checkout",status="201"} ${created}\n` +
      `agora_http_requests_total{service="gateway",method="POST",route="/api/v1/checkout",status="202"} ${accepted}\n`;
    const snap = snapshot(scrape(text(2, 3), 0));
    expect(snap.totals).toMatchObject({ checkoutsOk: 5, checkoutsPending: 3, checkoutsFailed: 0 });
    expect(pointBetween(scrape(text(2, 3), 0), scrape(text(2, 4), 60_000)).checkoutsOk).toBeCloseTo(1, 6);
  });

  it('prefers the order counter for checkouts when the order service exports one', () => {
    const text = (confirmed: number, failed: number) => `agora_orders_total{status="CONFIRMED"} ${confirmed}\nagora_orders_total{status="PAYMENT_FAILED"} ${failed}\n`;
    const point = pointBetween(scrape(text(5, 1), 0), scrape(text(8, 2), 60_000));
    expect(point.checkoutsOk).toBeCloseTo(3, 6);
    expect(point.checkoutsFailed).toBeCloseTo(1, 6);
    expect(snapshot(scrape(text(8, 2), 0)).checkoutSource).toBe('orders');
  });
});

describe('cluster view', () => {
  it('reads the gateway\'s cluster view: instances with heartbeat age and state, breakers, strategies', () => {
    const view = normalizeCluster({
      mode: 'cluster',
      generatedAt: '2026-01-01T00:00:10.000Z',
      services: [
        {
          name: 'order',
          strategy: 'power-of-two-choices',
          instances: [{ id: 'order-1', url: 'http://10.0.0.5:7001', zone: 'a', version: '0.1.0', weight: 1, state: 'up', lastHeartbeatAt: '2026-01-01T00:00:09.000Z', heartbeatAgeMs: 1000 }],
        },
      ],
      breakers: [{ service: 'order', instanceId: 'order-1', url: 'http://10.0.0.5:7001', state: 'open', consecutiveFailures: 5 }],
      shards: [{ service: 'order', id: 's0', version: 1 }],
    });
    expect(view).toEqual({
      mode: 'cluster',
      strategies: { order: 'power-of-two-choices' },
      instances: [{ service: 'order', id: 'order-1', url: 'http://10.0.0.5:7001', zone: 'a', heartbeatAgeMs: 1000, state: 'up' }],
      breakers: [{ name: 'order → order-1', url: 'http://10.0.0.5:7001', state: 'open', failures: 5 }],
      shardCount: 1,
    });
  });

  it('also reads maps keyed by service and heartbeat times without an age', () => {
    const now = Date.parse('2026-01-01T00:00:03.000Z');
    const view = normalizeCluster(
      {
        services: { cart: [{ instanceId: 'c1', lastHeartbeat: '2026-01-01T00:00:00.000Z', status: 'suspect' }] },
        breakers: { 'gateway->cart': 'closed', 'cart->inventory': { state: 'half-open' } },
      },
      now,
    );
    expect(view?.instances[0]).toMatchObject({ service: 'cart', id: 'c1', heartbeatAgeMs: 3000, state: 'suspect' });
    expect(view?.breakers.map((b) => `${b.name}:${b.state}`)).toEqual(['gateway->cart:closed', 'cart->inventory:half-open']);
    expect(normalizeCluster({ shards: [] })).toBeUndefined();
    expect(normalizeCluster({ mode: 'single-process', services: [], breakers: [], shards: [] })?.mode).toBe('single-process');
  });
});
