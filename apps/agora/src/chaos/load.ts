import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom, type RandomSource } from '@agora/platform';
import type { History, Operation } from './history.js';

/**
 * The shoppers of `agora chaos`: a few concurrent clients that browse, fill carts and check out
 * with every sandbox card (approved, declined, confirmed later, capture refused), cancel what they
 * bought and buy and pay flash-sale units, through whichever gateway is up. Every request and its
 * answer goes into the history. A request that gets no answer or a 5xx is retried with the same
 * Idempotency-Key, as a careful client does; nothing else is retried.
 */

export const LOAD_LIMITS = {
  shoppers: 6,
  skus: 4,
  stockPerSku: 60,
  priceMinor: 1_250,
  flashSaleUnits: 12,
  flashSalePerUserLimit: 3,
  flashSalePriceMinor: 900,
  /** A request with no answer within this long counts as none. */
  requestTimeoutMs: 10_000,
  /** Attempts of one checkout / pay / purchase with the same key. */
  attemptsPerKey: 3,
  /** Pause between a shopper's actions: bounds the load on a small machine. */
  thinkMs: { min: 50, max: 250 },
  /** How long a shopper follows a ticket to its order before paying. */
  ticketWaitMs: 5_000,
  pollMs: 250,
  /** A hard bound on a run's requests, whatever its duration. */
  maxRequests: 500_000,
} as const;

/** Cards and how often each is used. */
export const CARDS = [
  { token: 'tok_visa', weight: 0.55 },
  { token: 'tok_declined', weight: 0.15 },
  { token: 'tok_async', weight: 0.15 },
  { token: 'tok_capture_fails', weight: 0.15 },
] as const;

export const ADMIN = { email: 'chaos-admin@example.com', password: 'chaos-admin-password-1' } as const;
const ADDRESS = { name: 'Chaos Shopper', line1: '1 Crash Street', city: 'Lisbon', postalCode: '1000-001', country: 'PT' };

interface Answer {
  status: number;
  body: Record<string, unknown> | undefined;
}

export interface Shopper {
  token: string;
  /** Orders this shopper was told are CONFIRMED (checkout orders only: flash-sale ones cannot be cancelled). */
  confirmed: string[];
}

export interface LoadSetup {
  skus: string[];
  /** On hand per SKU as set before the run: the conservation law's start. */
  initialStock: Map<string, number>;
  saleId: string;
  shoppers: Shopper[];
}

/** A client of whichever gateway is listening (the list changes as gateways restart). */
export class ChaosClient {
  private next = 0;
  constructor(
    private readonly gateways: () => readonly string[],
    private readonly history: History | undefined,
  ) {}

  async call(op: Operation, method: string, path: string, options: { token?: string; body?: unknown; key?: string } = {}): Promise<Answer> {
    const urls = this.gateways().filter((u) => u.length > 0);
    const base = urls[this.next++ % Math.max(1, urls.length)];
    const started = Date.now();
    const atMs = this.history?.sinceStartMs() ?? 0;
    let answer: Answer = { status: 0, body: undefined };
    if (base !== undefined) {
      try {
        const headers: Record<string, string> = {};
        if (options.body !== undefined) headers['content-type'] = 'application/json';
        if (options.token) headers.authorization = `Bearer ${options.token}`;
        if (options.key) headers['idempotency-key'] = options.key;
        const res = await fetch(`${base}${path}`, {
          method,
          headers,
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
          signal: AbortSignal.timeout(LOAD_LIMITS.requestTimeoutMs),
        });
        const text = await res.text();
        let body: Record<string, unknown> | undefined;
        try {
          body = text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : undefined;
        } catch {
          body = undefined;
        }
        answer = { status: res.status, body };
      } catch {
        answer = { status: 0, body: undefined };
      }
    }
    const orderId = typeof answer.body?.id === 'string' ? answer.body.id : typeof answer.body?.ticketId === 'string' ? answer.body.ticketId : undefined;
    this.history?.request({
      op,
      atMs,
      ms: Date.now() - started,
      status: answer.status,
      ...(orderId ? { orderId } : {}),
      ...(typeof answer.body?.status === 'string' ? { orderStatus: answer.body.status } : {}),
      ...(typeof answer.body?.code === 'string' ? { code: answer.body.code } : {}),
    });
    return answer;
  }

  /** The same request (same key) again while it gets no answer or a 5xx. */
  async keyed(op: Operation, method: string, path: string, options: { token: string; body?: unknown; key: string }): Promise<Answer> {
    let answer: Answer = { status: 0, body: undefined };
    for (let attempt = 0; attempt < LOAD_LIMITS.attemptsPerKey; attempt++) {
      answer = await this.call(op, method, path, options);
      if (answer.status !== 0 && answer.status < 500) return answer;
    }
    return answer;
  }
}

function expectStatus(what: string, answer: Answer, status: number): Record<string, unknown> {
  if (answer.status !== status) throw new Error(`${what} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body ?? {};
}

/** Before any fault: the admin's products, stock and flash sale, and the shoppers' accounts. */
export async function setUpShop(client: ChaosClient, runTag: string): Promise<LoadSetup> {
  const login = expectStatus('admin login', await client.call('register', 'POST', '/api/v1/auth/login', { body: ADMIN }), 200);
  const admin = String(login.token);
  const skus: string[] = [];
  const initialStock = new Map<string, number>();
  for (let i = 0; i < LOAD_LIMITS.skus; i++) {
    const sku = `CHAOS-${runTag}-${i}`;
    expectStatus(
      `creating ${sku}`,
      await client.call('register', 'POST', '/api/v1/admin/products', {
        token: admin,
        body: { name: `Chaos ${sku}`, description: 'made by agora chaos', category: 'chaos', variants: [{ sku, title: 'Default', price: { amount: LOAD_LIMITS.priceMinor, currency: 'USD' } }] },
      }),
      201,
    );
    expectStatus(`stock of ${sku}`, await client.call('register', 'PUT', `/api/v1/admin/inventory/${sku}`, { token: admin, body: { onHand: LOAD_LIMITS.stockPerSku } }), 200);
    skus.push(sku);
    initialStock.set(sku, LOAD_LIMITS.stockPerSku);
  }
  const now = Date.now();
  const sale = expectStatus(
    'creating the flash sale',
    await client.call('register', 'POST', '/api/v1/admin/flash-sales', {
      token: admin,
      body: {
        sku: skus[0],
        quantity: LOAD_LIMITS.flashSaleUnits,
        price: { amount: LOAD_LIMITS.flashSalePriceMinor, currency: 'USD' },
        startsAt: new Date(now - 60_000).toISOString(),
        endsAt: new Date(now + 24 * 3_600_000).toISOString(),
        perUserLimit: LOAD_LIMITS.flashSalePerUserLimit,
      },
    }),
    201,
  );
  const shoppers: Shopper[] = [];
  for (let i = 0; i < LOAD_LIMITS.shoppers; i++) {
    const body = { email: `chaos-${runTag.toLowerCase()}-${i}@example.com`, password: 'shopper-password-1', name: `Chaos Shopper ${i}` };
    const registered = expectStatus('registering a shopper', await client.call('register', 'POST', '/api/v1/auth/register', { body }), 201);
    shoppers.push({ token: String(registered.token), confirmed: [] });
  }
  return { skus, initialStock, saleId: String(sale.id), shoppers };
}

function pickCard(random: RandomSource): string {
  let r = random();
  for (const card of CARDS) {
    if (r < card.weight) return card.token;
    r -= card.weight;
  }
  return CARDS[0].token;
}

/** One shopper's loop until `stopped()`. */
async function shop(client: ChaosClient, setup: LoadSetup, shopper: Shopper, random: RandomSource, stopped: () => boolean): Promise<void> {
  while (!stopped()) {
    const r = random();
    if (r < 0.25) {
      await client.call('browse', 'GET', '/api/v1/products?limit=5');
    } else if (r < 0.7) {
      const sku = setup.skus[Math.floor(random() * setup.skus.length)] ?? '';
      const added = await client.call('add-to-cart', 'POST', '/api/v1/cart/items', { token: shopper.token, body: { sku, quantity: 1 + Math.floor(random() * 2) } });
      if (added.status === 200) {
        const answer = await client.keyed('checkout', 'POST', '/api/v1/checkout', {
          token: shopper.token,
          key: randomUUID(),
          body: { payment: { method: 'card', token: pickCard(random) }, shippingAddress: ADDRESS },
        });
        if (answer.status === 201 && answer.body?.status === 'CONFIRMED' && typeof answer.body.id === 'string') shopper.confirmed.push(answer.body.id);
      }
    } else if (r < 0.8) {
      const orderId = shopper.confirmed.shift();
      if (orderId) await client.keyed('cancel', 'POST', `/api/v1/orders/${orderId}/cancel`, { token: shopper.token, key: randomUUID() });
    } else {
      await flashSale(client, setup.saleId, shopper, random);
    }
    await sleep(LOAD_LIMITS.thinkMs.min + random() * (LOAD_LIMITS.thinkMs.max - LOAD_LIMITS.thinkMs.min));
  }
}

async function flashSale(client: ChaosClient, saleId: string, shopper: Shopper, random: RandomSource): Promise<void> {
  const purchase = await client.keyed('flash-purchase', 'POST', `/api/v1/flash-sales/${saleId}/purchase`, { token: shopper.token, key: randomUUID(), body: { quantity: 1 } });
  const ticketId = purchase.status === 202 && typeof purchase.body?.ticketId === 'string' ? purchase.body.ticketId : undefined;
  if (!ticketId) return;
  // Pay most orders; leave some unpaid to expire.
  if (random() < 0.2) return;
  const deadline = Date.now() + LOAD_LIMITS.ticketWaitMs;
  while (Date.now() < deadline) {
    const ticket = await client.call('flash-ticket', 'GET', `/api/v1/flash-sales/${saleId}/tickets/${ticketId}`, { token: shopper.token });
    if (ticket.body?.status === 'ORDERED') {
      const card = random() < 0.85 ? 'tok_visa' : 'tok_declined';
      await client.keyed('pay', 'POST', `/api/v1/orders/${ticketId}/pay`, { token: shopper.token, key: randomUUID(), body: { payment: { method: 'card', token: card } } });
      return;
    }
    if (ticket.body?.status === 'EXPIRED') return;
    await sleep(LOAD_LIMITS.pollMs);
  }
}

/** Runs every shopper until `stopped()` (or the request bound); the shoppers' choices follow the seed. */
export async function runLoad(client: ChaosClient, history: History, setup: LoadSetup, seed: number, stopped: () => boolean): Promise<void> {
  const done = () => stopped() || history.requestCount >= LOAD_LIMITS.maxRequests;
  await Promise.all(setup.shoppers.map((shopper, i) => shop(client, setup, shopper, seededRandom(seed * 31 + i + 1), done)));
}
