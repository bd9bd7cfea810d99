import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackClient, type ClusterView } from '@agora/bench';
import { inventoryTotals } from '@agora/inventory';
import { checkInvariants } from '../support/invariants.js';
import { clusterServersAvailable, sleep, startTestCluster, type TestCluster } from './support.js';

/**
 * The burst of issue 11, small: 100 buyers for 100 units of one SKU through two gateways, with two
 * order and two payment processes on a small connection budget. Every buyer gets the unit — no
 * PAYMENT_FAILED with a valid card, nobody refused while stock remains — and no gateway's breaker
 * opens on an instance that was only busy (docs/operations.md).
 */

const ADMIN = { email: 'burst-admin@test.agora', password: 'burst-admin-password-1' };
const SERVICES = { identity: 1, catalog: 1, inventory: 1, cart: 1, payment: 2, order: 2 } as const;
const BUYERS = 100;
const UNITS = 100;
const PRICE = 1_900;
/** Per process: 8 processes x 5 leaves the server room for the test files running beside this one. */
const POOL_MAX_PER_PROCESS = 5;
const REGISTER_CONCURRENCY = 6;
/** A client gives up after this; the test then fails on the buyers left without an answer. */
const CHECKOUT_DEADLINE_MS = 150_000;
const FOLLOW_POLL_MS = 250;

describe.runIf(await clusterServersAvailable())('a checkout burst on a small cluster', () => {
  let tc: TestCluster;
  let gateways: LoopbackClient[];
  let sku: string;
  let buyers: { id: string; token: string }[];

  beforeAll(async () => {
    tc = await startTestCluster({
      gateways: 2,
      services: SERVICES,
      admin: ADMIN,
      env: { AGORA_DB_POOL_MAX: String(POOL_MAX_PER_PROCESS), AGORA_SAGA_LEASE_MS: '3000', AGORA_SAGA_RECOVERY_INTERVAL_MS: '500' },
    });
    gateways = tc.cluster.gatewayUrls.map((url) => new LoopbackClient(url, 32));
    const http = gateways[0] as LoopbackClient;
    const token = tc.cluster.adminToken;
    sku = `BURST-${randomUUID().slice(0, 8)}`;
    const product = await http.request('POST', '/api/v1/admin/products', {
      token,
      parse: true,
      body: { name: 'Burst item', description: 'one each', category: 'burst', variants: [{ sku, title: 'One', price: { amount: PRICE, currency: 'USD' } }] },
    });
    expect(product.status, JSON.stringify(product.body)).toBe(201);
    expect((await http.request('PUT', `/api/v1/admin/inventory/${sku}`, { token, body: { onHand: UNITS } })).status).toBe(200);
    buyers = [];
    const tag = randomUUID().slice(0, 8);
    for (let next = 0; next < BUYERS; next += REGISTER_CONCURRENCY) {
      const batch = Array.from({ length: Math.min(REGISTER_CONCURRENCY, BUYERS - next) }, (_, i) => next + i);
      for (const answer of await Promise.all(batch.map((i) => http.request('POST', '/api/v1/auth/register', { parse: true, body: { email: `burst-${tag}-${i}@test.agora`, password: 'burst-password-1', name: `Buyer ${i}` } })))) {
        expect(answer.status, JSON.stringify(answer.body)).toBe(201);
        const body = answer.body as { user: { id: string }; token: string };
        buyers.push({ id: body.user.id, token: body.token });
      }
    }
    for (let i = 0; i < buyers.length; i += 8) {
      await Promise.all(buyers.slice(i, i + 8).map(async (b) => expect((await http.request('POST', '/api/v1/cart/items', { token: b.token, body: { sku, quantity: 1 } })).status).toBe(200)));
    }
  }, 420_000);

  afterAll(async () => {
    for (const client of gateways ?? []) await client.close();
    await tc?.stop();
  }, 120_000);

  it(`${BUYERS} buyers, ${UNITS} units, two gateways: every order CONFIRMED, no breaker opened`, async () => {
    const body = { payment: { method: 'card', token: 'tok_visa' }, shippingAddress: { name: 'Burst Buyer', line1: '1 Burst Road', city: 'Porto', postalCode: '4000', country: 'PT' } };
    const deadline = Date.now() + CHECKOUT_DEADLINE_MS;
    const firstAnswers: Record<string, number> = {};
    const retried: Record<string, number> = {};
    /** A real client: the same key again after a 503 (or a lost connection); a 202 followed until the order is final. */
    const checkout = async (buyer: { token: string }, http: LoopbackClient): Promise<string> => {
      const key = randomUUID();
      for (let attempt = 1; Date.now() < deadline; attempt++) {
        let reason: string;
        try {
          const res = await http.request('POST', '/api/v1/checkout', { token: buyer.token, headers: { 'idempotency-key': key }, body, parse: true });
          const answer = res.body as { id?: string; status?: string; code?: string; order?: { status: string } };
          if (attempt === 1) firstAnswers[res.status] = (firstAnswers[res.status] ?? 0) + 1;
          if (res.status === 201 || res.status === 202) return await follow(buyer, http, answer.id ?? '');
          if (res.status !== 503) return `${res.status} ${answer.code ?? ''} ${answer.order?.status ?? ''}`.trim();
          reason = `503 ${answer.code ?? ''}`;
        } catch (err) {
          reason = `network: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
        }
        retried[reason] = (retried[reason] ?? 0) + 1;
        await sleep(Math.min(200 * attempt, 2_000));
      }
      return 'no final answer before the deadline';
    };
    const follow = async (buyer: { token: string }, http: LoopbackClient, orderId: string): Promise<string> => {
      for (;;) {
        const res = await http.request('GET', `/api/v1/orders/${orderId}`, { token: buyer.token, parse: true }).catch(() => undefined);
        const status = res?.status === 200 ? (res.body as { status: string }).status : undefined;
        if (status && !['PENDING', 'RESERVED'].includes(status)) return status;
        if (Date.now() > deadline) return `still ${status ?? 'unreadable'}`;
        await sleep(FOLLOW_POLL_MS);
      }
    };

    const outcomes = await Promise.all(buyers.map((b, i) => checkout(b, gateways[i % gateways.length] as LoopbackClient)));
    const tally: Record<string, number> = {};
    for (const outcome of outcomes) tally[outcome] = (tally[outcome] ?? 0) + 1;
    console.info(`[burst] first answers ${JSON.stringify(firstAnswers)}; outcomes ${JSON.stringify(tally)}; client retries ${JSON.stringify(retried)}`);
    expect(tally).toEqual({ CONFIRMED: BUYERS });

    // No gateway held a busy order (or any) instance against it.
    for (const http of gateways) {
      const view: ClusterView = await tc.cluster.view(http);
      expect(view.breakers.filter((b) => b.state !== 'closed')).toEqual([]);
    }
    expect((await inventoryTotals(tc.storage)).find((t) => t.sku === sku)).toMatchObject({ onHand: 0, reserved: 0 });
    const report = await checkInvariants({ inventory: tc.storage, orders: tc.storage, payment: tc.storage, initialStock: new Map([[sku, UNITS]]) });
    expect(report.violations, JSON.stringify(report)).toEqual([]);
    expect(report.captured - report.refunded).toBe(UNITS * PRICE);
  }, 300_000);
});
