import { bucketDelta, buckets, has, histogramQuantile, parsePrometheus, rate, sum, sumBy, type Sample } from './prometheus';

/** Requests the dashboard itself causes (and health probes) are not traffic. */
const OPERATIONAL_ROUTES = new Set(['/metrics', '/health/live', '/health/ready', '/api/v1/admin/cluster']);
const HTTP_TOTAL = 'agora_http_requests_total';
const HTTP_DURATION = 'agora_http_request_duration_seconds';
/** The order service's counter by final status, when it exports one. */
const ORDERS_TOTAL = 'agora_orders_total';
const RESERVATIONS_TOTAL = 'agora_inventory_reservations_total';
const CHECKOUT_ROUTE = '/api/v1/checkout';

export interface Scrape {
  at: number;
  samples: Sample[];
}

/** One point on every chart: what happened between two scrapes. */
export interface OpsPoint {
  at: number;
  /** Gateway requests per second (client traffic, not the dashboard's own polling). */
  requestRate: number;
  /** Of those, answers with a 5xx status, per second. */
  errorRate: number;
  /** p99 of gateway request latency in the interval, in milliseconds (undefined: no requests). */
  p99Ms: number | undefined;
  p50Ms: number | undefined;
  /** Checkouts per minute that ended confirmed / failed (declined, out of stock, errors). */
  checkoutsOk: number;
  checkoutsFailed: number;
  /** Stock movements per minute by reservation event (held, committed, released, expired...). */
  stock: Record<string, number>;
}

export interface OpsSnapshot {
  /** Counters since the process started. */
  totals: {
    requests: number;
    checkoutsOk: number;
    /** Of `checkoutsOk`, those answered 202 (payment still pending then); 0 when counted from orders. */
    checkoutsPending: number;
    checkoutsFailed: number;
    residentMb: number | undefined;
    eventLoopP99Ms: number | undefined;
    uptimeSeconds: number | undefined;
  };
  /** Where the checkout numbers come from, shown under the chart. */
  checkoutSource: 'orders' | 'gateway';
  stockEvents: string[];
}

export function scrape(text: string, at: number): Scrape {
  return { at, samples: parsePrometheus(text) };
}

const isTraffic = (l: Record<string, string>) => l.service === 'gateway' && !OPERATIONAL_ROUTES.has(l.route ?? '');
const isCheckout = (l: Record<string, string>) => l.service === 'gateway' && l.route === CHECKOUT_ROUTE && l.method === 'POST';
/**
 * Gateway answers only: a 202 is an order whose payment settles asynchronously (tok_async), which
 * the gateway never hears about again. It is counted with the confirmed ones (and said apart on
 * the page), or every asynchronous order would go missing from the count.
 */
const ok = (status: string | undefined) => status === '201' || status === '200' || status === '202';
const pending = (status: string | undefined) => status === '202';
/** 4xx other than declines/stock are bad input, not checkouts. */
const failed = (status: string | undefined) => status === '402' || status === '409' || (status !== undefined && status.startsWith('5'));

function checkoutCounts(samples: readonly Sample[]): { ok: number; failed: number; pending: number; source: 'orders' | 'gateway' } {
  if (has(samples, ORDERS_TOTAL)) {
    const byStatus = sumBy(samples, ORDERS_TOTAL, 'status');
    const okCount = (byStatus.CONFIRMED ?? 0) + (byStatus.confirmed ?? 0);
    const failedCount = Object.entries(byStatus)
      .filter(([status]) => ['REJECTED', 'PAYMENT_FAILED', 'EXPIRED', 'rejected', 'payment_failed', 'expired'].includes(status))
      .reduce((n, [, v]) => n + v, 0);
    return { ok: okCount, failed: failedCount, pending: 0, source: 'orders' };
  }
  return {
    ok: sum(samples, HTTP_TOTAL, (l) => isCheckout(l) && ok(l.status)),
    failed: sum(samples, HTTP_TOTAL, (l) => isCheckout(l) && failed(l.status)),
    pending: sum(samples, HTTP_TOTAL, (l) => isCheckout(l) && pending(l.status)),
    source: 'gateway',
  };
}

export function snapshot(current: Scrape): OpsSnapshot {
  const { samples } = current;
  const checkouts = checkoutCounts(samples);
  const rss = sum(samples, 'agora_process_resident_memory_bytes');
  const lag = samples.find((s) => s.name === 'agora_nodejs_eventloop_lag_p99_seconds')?.value;
  const started = samples.find((s) => s.name === 'agora_process_start_time_seconds')?.value;
  return {
    totals: {
      requests: sum(samples, HTTP_TOTAL, isTraffic),
      checkoutsOk: checkouts.ok,
      checkoutsPending: checkouts.pending,
      checkoutsFailed: checkouts.failed,
      residentMb: rss > 0 ? rss / 1024 / 1024 : undefined,
      eventLoopP99Ms: lag === undefined ? undefined : lag * 1000,
      uptimeSeconds: started === undefined ? undefined : Math.max(0, current.at / 1000 - started),
    },
    checkoutSource: checkouts.source,
    stockEvents: Object.keys(sumBy(samples, RESERVATIONS_TOTAL, 'event')).sort(),
  };
}

export function pointBetween(before: Scrape, after: Scrape): OpsPoint {
  const seconds = (after.at - before.at) / 1000;
  const perMinute = (a: number, b: number) => rate(a, b, seconds) * 60;
  const latency = bucketDelta(buckets(before.samples, HTTP_DURATION, isTraffic), buckets(after.samples, HTTP_DURATION, isTraffic));
  const p99 = histogramQuantile(0.99, latency);
  const p50 = histogramQuantile(0.5, latency);
  const c0 = checkoutCounts(before.samples);
  const c1 = checkoutCounts(after.samples);
  const s0 = sumBy(before.samples, RESERVATIONS_TOTAL, 'event');
  const s1 = sumBy(after.samples, RESERVATIONS_TOTAL, 'event');
  const stock: Record<string, number> = {};
  for (const event of Object.keys(s1)) stock[event] = perMinute(s0[event] ?? 0, s1[event] ?? 0);
  const is5xx = (l: Record<string, string>) => isTraffic(l) && (l.status ?? '').startsWith('5');
  return {
    at: after.at,
    requestRate: rate(sum(before.samples, HTTP_TOTAL, isTraffic), sum(after.samples, HTTP_TOTAL, isTraffic), seconds),
    errorRate: rate(sum(before.samples, HTTP_TOTAL, is5xx), sum(after.samples, HTTP_TOTAL, is5xx), seconds),
    p99Ms: p99 === undefined ? undefined : p99 * 1000,
    p50Ms: p50 === undefined ? undefined : p50 * 1000,
    checkoutsOk: perMinute(c0.ok, c1.ok),
    checkoutsFailed: perMinute(c0.failed, c1.failed),
    stock,
  };
}
