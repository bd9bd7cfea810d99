import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { flashSale } from '@agora/contracts';
import { cacheRedisConnection } from '@agora/platform';
import { checkInvariants } from '../support/invariants.js';
import { eventually, mapLimit } from '../support/shop.js';
import { OwnRedis, redisServerInstalled } from '../support/own-redis.js';
import { clusterServersAvailable, sleep, startTestCluster, type TestCluster } from './support.js';

/**
 * Issue 10's acceptance in `agora cluster`: flash sales on separate `agora service` processes —
 * two gateways, two inventory processes (each runs the purchase script and consumes tickets) and
 * two order processes (each consumes the units taken from JetStream and opens orders) — on the
 * real PostgreSQL and NATS, and on a redis-server of this file's own that it kills mid-sale.
 *
 * - The same stampede RUNS times in one cluster: BUYERS buyers spread over both gateways, each
 *   ATTEMPTS purchases with a new Idempotency-Key each, for UNITS units at PER_USER_LIMIT each.
 *   Exactly UNITS tickets are accepted, each becomes exactly one RESERVED order, no buyer holds
 *   more than the limit, every answer is 202, 409 SOLD_OUT or 429 LIMIT_EXCEEDED (never a 5xx),
 *   PostgreSQL has sold exactly UNITS, an accepted key sent again answers its ticket, and the
 *   conservation laws hold.
 * - Unpaid orders expire (a sale with a short payment window) and their units are sold again to
 *   new buyers; the orders paid with `POST /orders/:id/pay` stay CONFIRMED.
 * - Redis killed (SIGKILL, no persistence) and started again empty mid-sale, with tickets still on
 *   their way to PostgreSQL and purchases arriving while it is down. What is correct then
 *   (docs/flash-sales.md, docs/api.md): a purchase the counter cannot answer is a 503 UNAVAILABLE
 *   with Retry-After, which a client sends again with the same key; the counter is reloaded from
 *   the database, which does not know the tickets in flight, so it may issue a few tickets more
 *   than the units left — PostgreSQL refuses those (their tickets answer EXPIRED), and the
 *   reconciler gives back to the counter any unit it lost that way. So: exactly UNITS sold and
 *   UNITS orders, each order a ticket the database took, every accepted ticket decided (taken or
 *   refused), no buyer over the limit, no 5xx but 503 with Retry-After, and the counter back in
 *   line with PostgreSQL.
 *
 * Rate limits stay off as in the other cluster tests (the buyers all come from 127.0.0.1, and
 * their registrations alone would meet the per-address limit): a 429 RATE_LIMITED would be counted
 * as a business answer if it came.
 */

const ADMIN = { email: 'flash-admin@test.agora', password: 'flash-admin-password-1' };
/** Two of each process a flash sale goes through; one of the others (a product, a sign-in, a payment). */
const SERVICES = { identity: 1, catalog: 1, inventory: 2, order: 2, payment: 1 } as const;
/** The file's share of the test server's connections: 7 pools of 4. */
const CONNECTIONS = 28;
const BUYERS = 150;
const UNITS = 40;
const PER_USER_LIMIT = 2;
/** Each buyer's purchases one after another, each with a new key: a shopper mashing "buy". */
const ATTEMPTS = 3;
/** Stampedes on the same cluster, one sale each (AGORA_FLASH_CLUSTER_RUNS, 1 to RUNS_MAX). */
const RUNS_DEFAULT = 5;
const RUNS_MAX = 20;
const RUNS = runsFromEnv();
const PRICE = 1_500;
const SETUP_CONCURRENCY = 8;
/** Every request's bound: correctness, not latency, is under test on a shared 2-core machine. */
const REQUEST_TIMEOUT_MS = 60_000;
/** The gateways' upstream timeout, as long as a request's own bound (the API stampede test does the same). */
const GATEWAY_TIMEOUT_MS = 60_000;
const RECONCILE_MS = 300;
const SWEEP_MS = 500;

/** The expiry run: EXPIRY_UNITS units, EXPIRY_PAID of their orders paid, the rest left to expire and sold again. */
const EXPIRY_UNITS = 10;
const EXPIRY_PAID = 4;
/** Long enough for the test to pay on a busy machine; an unpaid order expires a window plus a grace (as long) later. */
const EXPIRY_WINDOW_SECONDS = 8;

/** The restart run: one unit a buyer, so a buyer known again from the database is refused. */
const RESTART_LIMIT = 1;
/** Tickets accepted before Redis is killed: about half the units, the sale in full swing. */
const KILL_AFTER_ACCEPTED = 15;
/** Buyers arrive this far apart (all BUYERS in about 3 s), so the kill lands mid-sale and buyers keep coming while Redis is down. */
const ARRIVAL_GAP_MS = 20;
/** How long Redis stays down while purchases arrive. */
const REDIS_DOWN_MS = 1_500;
/** A client's bound on sending the same purchase again after a 503 with Retry-After. */
const CLIENT_RETRIES_MAX = 15;
/** Waves of buyers without an order after the restart, until the database has sold every unit (units the counter lost come back through the reconciler). */
const LATE_WAVES_MAX = 5;

const SETUP_TIMEOUT_MS = 420_000;
const RUN_TIMEOUT_MS = 120_000;
const SETTLE_TIMEOUT_MS = 60_000;

function runsFromEnv(): number {
  const raw = process.env.AGORA_FLASH_CLUSTER_RUNS;
  if (raw === undefined || raw === '') return RUNS_DEFAULT;
  const runs = Number(raw);
  if (!Number.isInteger(runs) || runs < 1 || runs > RUNS_MAX) throw new Error(`AGORA_FLASH_CLUSTER_RUNS must be an integer from 1 to ${RUNS_MAX}, got "${raw}"`);
  return runs;
}

interface Buyer {
  id: string;
  token: string;
  /** The gateway this buyer talks to (buyers alternate between the two). */
  gateway: string;
}

interface Answer<T = Record<string, unknown>> {
  status: number;
  retryAfter: string | null;
  contentType: string;
  body: T & { code?: string; detail?: string };
}

/** One purchase as its buyer saw it: the last answer, and the answers before it that were sent again. */
interface Purchase {
  buyer: Buyer;
  key: string;
  answer: Answer<Partial<flashSale.Ticket>>;
  retried: Answer[];
}

async function call<T = Record<string, unknown>>(base: string, method: string, path: string, options: { token?: string; body?: unknown; key?: string } = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.key) headers['idempotency-key'] = options.key;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  let body: Answer<T>['body'];
  try {
    body = (text.length > 0 ? JSON.parse(text) : {}) as Answer<T>['body'];
  } catch {
    body = { detail: text.slice(0, 200) } as Answer<T>['body'];
  }
  return { status: res.status, retryAfter: res.headers.get('retry-after'), contentType: res.headers.get('content-type') ?? '', body };
}

/** "202", "409 SOLD_OUT", "503 UNAVAILABLE": what an answer was, in a word or two. */
function kind(answer: Answer): string {
  return answer.status < 300 ? String(answer.status) : `${answer.status} ${answer.body.code ?? answer.body.detail ?? ''}`.trim();
}

function tally(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const answer of answers) counts[kind(answer)] = (counts[kind(answer)] ?? 0) + 1;
  return counts;
}

/** The answers that are not a clean business answer: a 5xx (but a 503 with Retry-After where allowed), a 4xx that is not problem+json. */
function unclean(answers: readonly Answer[], allow503: boolean): string[] {
  return answers
    .filter((a) => (a.status >= 500 && !(allow503 && a.status === 503 && a.retryAfter !== null)) || (a.status >= 400 && !a.contentType.startsWith('application/problem+json')))
    .map((a) => `${a.status} ${a.contentType} retry-after=${a.retryAfter} ${JSON.stringify(a.body)}`);
}

/**
 * One purchase of one unit, as a well-behaved client makes it: a 503 with Retry-After is waited
 * out and sent again with the same key, at most CLIENT_RETRIES_MAX times.
 */
async function purchase(buyer: Buyer, saleId: string, key: string = randomUUID(), onAnswer?: (made: Purchase) => void): Promise<Purchase> {
  const retried: Answer[] = [];
  for (;;) {
    const answer = await call<Partial<flashSale.Ticket>>(buyer.gateway, 'POST', `/api/v1/flash-sales/${saleId}/purchase`, { token: buyer.token, key, body: { quantity: 1 } });
    if (answer.status !== 503 || answer.retryAfter === null || retried.length >= CLIENT_RETRIES_MAX) {
      const made = { buyer, key, answer, retried };
      onAnswer?.(made);
      return made;
    }
    retried.push(answer);
    await sleep(Math.max(1, Number(answer.retryAfter) || 1) * 1_000);
  }
}

/** Every buyer at once, each making `attempts` purchases one after another. */
async function stampede(buyers: readonly Buyer[], saleId: string, attempts: number): Promise<Purchase[]> {
  const perBuyer = await Promise.all(
    buyers.map(async (buyer) => {
      const made: Purchase[] = [];
      for (let i = 0; i < attempts; i++) made.push(await purchase(buyer, saleId));
      return made;
    }),
  );
  return perBuyer.flat();
}

function accepted(purchases: readonly Purchase[]): Purchase[] {
  return purchases.filter((p) => p.answer.status === 202);
}

function ticketIds(purchases: readonly Purchase[]): Set<string> {
  return new Set(accepted(purchases).map((p) => p.answer.body.ticketId ?? ''));
}

/** The most 202 answers one buyer got. */
function mostAcceptedByOneBuyer(purchases: readonly Purchase[]): number {
  const perBuyer = new Map<string, number>();
  for (const p of accepted(purchases)) perBuyer.set(p.buyer.id, (perBuyer.get(p.buyer.id) ?? 0) + 1);
  return Math.max(0, ...perBuyer.values());
}

async function registerBuyers(gateways: readonly string[], count: number, tag: string): Promise<Buyer[]> {
  return mapLimit(Array.from({ length: count }, (_, i) => i), SETUP_CONCURRENCY, async (i) => {
    const gateway = gateways[i % gateways.length] as string;
    const answer = await call<{ user: { id: string }; token: string }>(gateway, 'POST', '/api/v1/auth/register', {
      body: { email: `flash-${tag}-${i}@test.agora`, password: 'flash-password-1', name: `Flash buyer ${i}` },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    return { id: answer.body.user.id, token: answer.body.token, gateway };
  });
}

/** The sale's row, its tickets by status and its orders, from PostgreSQL: the truth every answer is checked against. */
async function saleInDatabase(tc: TestCluster, saleId: string) {
  const [row] = await tc.storage.query<{ quantity: number; sold: number }>(sql`select quantity, sold from inventory.flash_sales where id = ${saleId}::uuid`);
  if (!row) throw new Error(`no flash sale ${saleId}`);
  const tickets = await tc.storage.query<{ ticket_id: string; status: string }>(sql`select ticket_id::text, status from inventory.flash_sale_tickets where sale_id = ${saleId}::uuid`);
  const orders = await tc.storage.query<{ id: string; user_id: string; status: string; units: number }>(
    sql`select o.id::text, o.user_id::text, o.status, (select sum(quantity) from orders.order_lines l where l.order_id = o.id) as units
        from orders.orders o where o.idempotency_key like ${`flash-sale:${saleId}:%`}`,
  );
  const count = <T>(items: readonly T[], key: (item: T) => string) => {
    const counts: Record<string, number> = {};
    for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
    return counts;
  };
  const held = orders.filter((o) => o.status === 'RESERVED' || o.status === 'CONFIRMED');
  const unitsPerBuyer = new Map<string, number>();
  for (const o of held) unitsPerBuyer.set(o.user_id, (unitsPerBuyer.get(o.user_id) ?? 0) + Number(o.units));
  return {
    quantity: Number(row.quantity),
    sold: Number(row.sold),
    tickets: count(tickets, (t) => t.status),
    ticketIds: new Map(tickets.map((t) => [t.ticket_id, t.status])),
    orders: count(orders, (o) => o.status),
    orderIds: new Set(orders.map((o) => o.id)),
    /** Units held by orders RESERVED or CONFIRMED. */
    heldUnits: held.reduce((sum, o) => sum + Number(o.units), 0),
    mostUnitsOneBuyerHolds: Math.max(0, ...unitsPerBuyer.values()),
  };
}

/** A product with one variant and `units` on hand; its SKU. */
async function stockedSku(tc: TestCluster, units: number, label: string): Promise<string> {
  const token = tc.cluster.adminToken;
  const sku = `FLASH-${label}-${randomUUID().slice(0, 8)}`;
  const product = await call(tc.gateway, 'POST', '/api/v1/admin/products', {
    token,
    body: { name: `Flash item ${label}`, description: 'sold in a flash', category: 'flash', variants: [{ sku, title: 'One', price: { amount: PRICE, currency: 'USD' } }] },
  });
  expect(product.status, JSON.stringify(product.body)).toBe(201);
  const stock = await call(tc.gateway, 'PUT', `/api/v1/admin/inventory/${sku}`, { token, body: { onHand: units } });
  expect(stock.status, JSON.stringify(stock.body)).toBe(200);
  return sku;
}

/** An open sale of `units` (created through `gateway`), its window long past any run. */
async function createSale(tc: TestCluster, gateway: string, sku: string, units: number, perUserLimit: number, paymentWindowSeconds?: number): Promise<flashSale.FlashSale> {
  const now = Date.now();
  const body = {
    sku,
    quantity: units,
    price: { amount: PRICE, currency: 'USD' },
    startsAt: new Date(now - 60_000).toISOString(),
    endsAt: new Date(now + 60 * 60_000).toISOString(),
    perUserLimit,
    ...(paymentWindowSeconds === undefined ? {} : { paymentWindowSeconds }),
  };
  const answer = await call<flashSale.FlashSale>(gateway, 'POST', '/api/v1/admin/flash-sales', { token: tc.cluster.adminToken, body });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.body;
}

/** The sum of a counter's samples on one member (its /metrics), `labels` a substring of the sample's labels. */
async function metric(tc: TestCluster, instanceId: string, name: string, labels = ''): Promise<number> {
  const url = tc.cluster.member(instanceId).url;
  if (!url) throw new Error(`${instanceId} does not listen`);
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

const available = (await clusterServersAvailable()) && redisServerInstalled();

describe.runIf(available)(`flash sales on a cluster (2 gateways, 2 inventory and 2 order processes) on a Redis of its own`, () => {
  let redis: OwnRedis;
  let tc: TestCluster;
  let buyers: Buyer[];
  /** On hand per SKU as first set, for the conservation laws. */
  const stocked = new Map<string, number>();

  const expectConserved = async () => {
    const report = await checkInvariants({ inventory: tc.storage, orders: tc.storage, payment: tc.storage, initialStock: stocked, allowInFlight: true });
    expect(report.violations, JSON.stringify(report)).toEqual([]);
  };

  beforeAll(async () => {
    const started = Date.now();
    redis = await OwnRedis.start();
    tc = await startTestCluster({
      gateways: 2,
      services: SERVICES,
      admin: ADMIN,
      connections: CONNECTIONS,
      env: {
        REDIS_URL: redis.url,
        AGORA_GATEWAY_TIMEOUT_MS: String(GATEWAY_TIMEOUT_MS),
        AGORA_FLASH_SALE_RECONCILE_MS: String(RECONCILE_MS),
        AGORA_FLASH_SALE_SWEEP_MS: String(SWEEP_MS),
      },
    });
    const clusterUp = Date.now();
    buyers = await registerBuyers(tc.cluster.gatewayUrls, BUYERS, randomUUID().slice(0, 8));
    console.info(`[flash cluster] cluster up in ${clusterUp - started} ms, ${BUYERS} buyers registered in ${Date.now() - clusterUp} ms`);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await tc?.stop();
    await redis?.kill();
  }, 120_000);

  for (let run = 1; run <= RUNS; run++) {
    it(
      `(run ${run} of ${RUNS}) ${BUYERS} buyers × ${ATTEMPTS} attempts over both gateways for ${UNITS} units (limit ${PER_USER_LIMIT}): exactly ${UNITS} tickets, each one RESERVED order, no 5xx`,
      async () => {
        const sku = await stockedSku(tc, UNITS, `RUN${run}`);
        stocked.set(sku, UNITS);
        const gateways = tc.cluster.gatewayUrls;
        const sale = await createSale(tc, gateways[run % gateways.length] as string, sku, UNITS, PER_USER_LIMIT);

        const purchases = await stampede(buyers, sale.id, ATTEMPTS);
        const answers = purchases.map((p) => p.answer);
        const counts = tally(answers);
        console.info(`[flash cluster run ${run}] answers ${JSON.stringify(counts)}`);
        expect(unclean(answers, false), JSON.stringify(counts)).toEqual([]);
        expect(purchases.flatMap((p) => p.retried)).toEqual([]);
        expect(Object.keys(counts).filter((k) => !['202', '409 SOLD_OUT', '429 LIMIT_EXCEEDED', '429 RATE_LIMITED'].includes(k)), JSON.stringify(counts)).toEqual([]);
        const tickets = ticketIds(purchases);
        expect(counts['202'], JSON.stringify(counts)).toBe(UNITS);
        expect(tickets.size).toBe(UNITS);
        expect(mostAcceptedByOneBuyer(purchases)).toBeLessThanOrEqual(PER_USER_LIMIT);

        // Every ticket is one order, opened from JetStream by the order processes.
        const db = await eventually('every ticket an order', () => saleInDatabase(tc, sale.id), (s) => s.orders.RESERVED === UNITS, SETTLE_TIMEOUT_MS);
        expect(db).toMatchObject({ quantity: UNITS, sold: UNITS, tickets: { TAKEN: UNITS }, orders: { RESERVED: UNITS }, heldUnits: UNITS });
        expect([...db.orderIds].sort()).toEqual([...tickets].sort());
        expect(db.mostUnitsOneBuyerHolds).toBeLessThanOrEqual(PER_USER_LIMIT);
        const stats = await call<flashSale.FlashSaleStats>(tc.gateway, 'GET', `/api/v1/admin/flash-sales/${sale.id}`, { token: tc.cluster.adminToken });
        expect(stats.body).toMatchObject({ accepted: UNITS, ordered: UNITS, expired: 0, remaining: 0, status: 'SOLD_OUT' });

        // An accepted key sent again (through the other gateway) answers its own ticket, and buys nothing more.
        const replays = await mapLimit(accepted(purchases), SETUP_CONCURRENCY, (p) =>
          call<Partial<flashSale.Ticket>>(gateways.find((g) => g !== p.buyer.gateway) ?? p.buyer.gateway, 'POST', `/api/v1/flash-sales/${sale.id}/purchase`, {
            token: p.buyer.token,
            key: p.key,
            body: { quantity: 1 },
          }),
        );
        expect(replays.map((r) => `${r.status} ${r.body.ticketId ?? r.body.code}`)).toEqual(accepted(purchases).map((p) => `202 ${p.answer.body.ticketId}`));
        expect((await saleInDatabase(tc, sale.id)).sold).toBe(UNITS);
        await expectConserved();
      },
      RUN_TIMEOUT_MS,
    );
  }

  it('the purchases and the tickets were spread over both inventory processes', async () => {
    const spread: Record<string, { purchases: number; taken: number }> = {};
    for (const id of ['inventory-1', 'inventory-2']) {
      spread[id] = { purchases: await metric(tc, id, 'agora_flash_sale_purchases_total'), taken: await metric(tc, id, 'agora_flash_sale_tickets_total', 'outcome="taken"') };
    }
    console.info(`[flash cluster] per inventory process ${JSON.stringify(spread)}`);
    for (const [id, seen] of Object.entries(spread)) {
      expect(seen.purchases, id).toBeGreaterThan(0);
      expect(seen.taken, id).toBeGreaterThan(0);
    }
    expect(Object.values(spread).reduce((sum, seen) => sum + seen.taken, 0)).toBe(RUNS * UNITS);
  });

  it(
    `unpaid orders expire after their ${EXPIRY_WINDOW_SECONDS} s window and their units are sold again; the ${EXPIRY_PAID} paid stay CONFIRMED`,
    async () => {
      const sku = await stockedSku(tc, EXPIRY_UNITS, 'EXPIRY');
      stocked.set(sku, EXPIRY_UNITS);
      const sale = await createSale(tc, tc.gateway, sku, EXPIRY_UNITS, 1, EXPIRY_WINDOW_SECONDS);
      const first = buyers.slice(0, EXPIRY_UNITS);
      const bought = await Promise.all(first.map((buyer) => purchase(buyer, sale.id)));
      expect(bought.map((p) => kind(p.answer))).toEqual(first.map(() => '202'));
      await eventually('every ticket an order', () => saleInDatabase(tc, sale.id), (s) => s.orders.RESERVED === EXPIRY_UNITS, SETTLE_TIMEOUT_MS);

      // Some pay at once (twice each, through both gateways: charged once), the rest never do.
      const payers = bought.slice(0, EXPIRY_PAID);
      const pay = (p: Purchase, gateway: string) =>
        call<{ status: string }>(gateway, 'POST', `/api/v1/orders/${p.answer.body.ticketId}/pay`, { token: p.buyer.token, body: { payment: { method: 'card', token: 'tok_visa' } } });
      const paid = await Promise.all(payers.flatMap((p) => tc.cluster.gatewayUrls.map((g) => pay(p, g))));
      expect(paid.map((a) => `${a.status} ${a.body.status ?? a.body.code}`)).toEqual(paid.map(() => '200 CONFIRMED'));

      const expired = EXPIRY_UNITS - EXPIRY_PAID;
      await eventually('unpaid orders expired, units back', () => saleInDatabase(tc, sale.id), (s) => s.orders.EXPIRED === expired && s.sold === EXPIRY_PAID, SETTLE_TIMEOUT_MS);
      // The units are on sale again: new buyers (the sold-out flag of an instance lasts a fraction of a second).
      const newcomers = buyers.slice(EXPIRY_UNITS, EXPIRY_UNITS + 2 * expired);
      await eventually(
        'units on sale again',
        async () => (await call<flashSale.FlashSale>(tc.gateway, 'GET', `/api/v1/flash-sales/${sale.id}`)).body.remaining,
        (remaining) => remaining === expired,
        SETTLE_TIMEOUT_MS,
      );
      const again = await Promise.all(newcomers.map((buyer) => purchase(buyer, sale.id)));
      const counts = tally(again.map((p) => p.answer));
      expect(unclean(again.map((p) => p.answer), false)).toEqual([]);
      expect(counts).toEqual({ '202': expired, '409 SOLD_OUT': expired });

      const db = await eventually('resold units ordered', () => saleInDatabase(tc, sale.id), (s) => s.orders.RESERVED === expired, SETTLE_TIMEOUT_MS);
      expect(db).toMatchObject({
        sold: EXPIRY_UNITS,
        tickets: { PAID: EXPIRY_PAID, RETURNED: expired, TAKEN: expired },
        orders: { CONFIRMED: EXPIRY_PAID, EXPIRED: expired, RESERVED: expired },
        heldUnits: EXPIRY_UNITS,
      });
      // Paid orders stay paid (the expiry sweeps ran past them all along).
      for (const p of payers) {
        const order = await call<{ status: string }>(p.buyer.gateway, 'GET', `/api/v1/orders/${p.answer.body.ticketId}`, { token: p.buyer.token });
        expect(order.body.status).toBe('CONFIRMED');
      }
      const report = await checkInvariants({ inventory: tc.storage, orders: tc.storage, payment: tc.storage, initialStock: stocked, allowInFlight: true });
      expect(report.violations, JSON.stringify(report)).toEqual([]);
      expect(report.captured - report.refunded).toBe(EXPIRY_PAID * PRICE);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    `Redis killed and started empty mid-sale: exactly ${UNITS} sold and ${UNITS} orders, no buyer over the limit, no 5xx but 503 with Retry-After, the counter restored`,
    async () => {
      const sku = await stockedSku(tc, UNITS, 'RESTART');
      stocked.set(sku, UNITS);
      const sale = await createSale(tc, tc.gateway, sku, UNITS, RESTART_LIMIT);

      // Buyers arrive one every ARRIVAL_GAP_MS, each trying twice; after KILL_AFTER_ACCEPTED
      // tickets Redis is killed (the last ones' tickets may still be on their way to PostgreSQL),
      // stays down REDIS_DOWN_MS while buyers keep arriving, and starts again empty.
      let acceptedSoFar = 0;
      let acceptedAtKill = 0;
      let outage: Promise<void> | undefined;
      const onAnswer = (p: Purchase) => {
        if (p.answer.status === 202) acceptedSoFar += 1;
        if (acceptedSoFar < KILL_AFTER_ACCEPTED || outage) return;
        acceptedAtKill = acceptedSoFar;
        outage = (async () => {
          await redis.kill();
          await sleep(REDIS_DOWN_MS);
          await redis.restart();
        })();
      };
      const arrivals = await Promise.all(
        buyers.map(async (buyer, i) => {
          await sleep(i * ARRIVAL_GAP_MS);
          const made: Purchase[] = [];
          for (let n = 0; n < 2; n++) made.push(await purchase(buyer, sale.id, randomUUID(), onAnswer));
          return made;
        }),
      );
      // Killed mid-sale: units were left, and sold after the restart.
      expect(outage, 'Redis was killed').toBeDefined();
      expect(acceptedAtKill).toBeLessThan(UNITS);
      await outage;
      // Everyone again, until the database has sold every unit: a unit the counter lost to a
      // ticket PostgreSQL refused comes back through the reconciler (two rounds) for a later wave.
      const later: Purchase[] = [];
      for (let wave = 0; wave < LATE_WAVES_MAX; wave++) {
        const issued = ticketIds([...arrivals.flat(), ...later]);
        const decided = await eventually('every ticket decided', () => saleInDatabase(tc, sale.id), (s) => [...issued].every((t) => s.ticketIds.has(t)), SETTLE_TIMEOUT_MS);
        if (decided.sold === UNITS) break;
        await sleep(3 * RECONCILE_MS);
        later.push(...(await stampede(buyers, sale.id, 1)));
      }
      const all = [...arrivals.flat(), ...later];
      const answers = all.map((p) => p.answer);
      const retried = all.flatMap((p) => p.retried);
      console.info(`[flash cluster restart] answers ${JSON.stringify(tally(answers))}; sent again after ${JSON.stringify(tally(retried))}`);
      expect(unclean([...answers, ...retried], true)).toEqual([]);
      // The fault fired: purchases met Redis down and were answered 503 UNAVAILABLE with Retry-After.
      expect(retried.length).toBeGreaterThan(0);
      expect(Object.keys(tally(retried))).toEqual(['503 UNAVAILABLE']);
      // Every purchase ended in a business answer: 503 only on the way, never the last word.
      expect(Object.keys(tally(answers)).filter((k) => !['202', '409 SOLD_OUT', '429 LIMIT_EXCEEDED', '429 RATE_LIMITED'].includes(k))).toEqual([]);

      const tickets = ticketIds(all);
      const db = await eventually(
        'every ticket decided and every taken one an order',
        () => saleInDatabase(tc, sale.id),
        (s) => [...tickets].every((t) => s.ticketIds.has(t)) && s.orders.RESERVED === UNITS,
        SETTLE_TIMEOUT_MS,
      );
      expect(db).toMatchObject({ quantity: UNITS, sold: UNITS, orders: { RESERVED: UNITS }, heldUnits: UNITS });
      expect(db.tickets.TAKEN).toBe(UNITS);
      // Each ticket accepted is decided by PostgreSQL: taken (an order) or refused (it answers EXPIRED).
      expect((db.tickets.TAKEN ?? 0) + (db.tickets.REFUSED ?? 0)).toBe(tickets.size);
      const taken = [...db.ticketIds].filter(([, status]) => status === 'TAKEN').map(([id]) => id);
      expect([...db.orderIds].sort()).toEqual(taken.sort());
      expect(db.mostUnitsOneBuyerHolds).toBeLessThanOrEqual(RESTART_LIMIT);
      console.info(`[flash cluster restart] ${tickets.size} tickets accepted: ${db.tickets.TAKEN} taken, ${db.tickets.REFUSED ?? 0} refused by PostgreSQL`);

      // The counter is back in line with the database: nothing left, no drift.
      const probe = cacheRedisConnection(redis.url, 'flash-cluster-test');
      await probe.connect();
      try {
        await eventually('counter restored', () => probe.get(`agora:flash-sale:{${sale.id}}:remaining`), (value) => value === '0', SETTLE_TIMEOUT_MS);
      } finally {
        probe.disconnect();
      }
      await eventually(
        'no drift',
        async () => (await call<flashSale.FlashSaleStats>(tc.gateway, 'GET', `/api/v1/admin/flash-sales/${sale.id}`, { token: tc.cluster.adminToken })).body,
        (s) => s.drift === 0 && s.remaining === 0 && s.ordered === UNITS,
        SETTLE_TIMEOUT_MS,
      );
      await expectConserved();
    },
    RUN_TIMEOUT_MS + SETTLE_TIMEOUT_MS,
  );
});
