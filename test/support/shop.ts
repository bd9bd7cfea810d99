import { createHmac, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { inventoryTotals } from '@agora/inventory';
import type { Storage } from '@agora/platform';
import type { order } from '@agora/contracts';
import { Api, uniqueEmail, type ApiResponse } from './http.js';
import { checkInvariants, type InvariantReport } from './invariants.js';
import { ADMIN, WEBHOOK_SECRET, startSystem, type RunningSystem, type SystemVariant } from './system.js';

// ------------------------------------------------------------------------------------------------
// The public API's shapes (docs/api.md), as a client sees them.

export interface Money {
  amount: number;
  currency: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: { path: string; message: string }[];
  /** Checkout problems (OUT_OF_STOCK, PAYMENT_DECLINED) and cancel conflicts carry the order. */
  order?: Order;
}

export interface CartItem {
  sku: string;
  productId: string;
  title: string;
  quantity: number;
  unitPrice: Money;
  lineTotal: Money;
}

export interface Cart {
  items: CartItem[];
  subtotal: Money;
  itemCount: number;
}

/** The order as the API answers it: the contract's own type. */
export type OrderStatus = order.OrderStatus;
export type Order = order.Order;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Product {
  id: string;
  name: string;
  category: string;
  variants: { sku: string; title: string; price: Money; available: number }[];
}

export interface Shopper {
  id: string;
  email: string;
  token: string;
}

/** What checkout answers: an Order (201/202), or a problem that may carry the order. */
export type CheckoutAnswer = Order & Omit<Problem, 'status'>;

type AnyResponse = Pick<ApiResponse<unknown>, 'status' | 'headers' | 'body'>;

/** A problem+json answer with this status and code, well formed; returns it. */
export function expectProblem(res: AnyResponse, status: number, code: string): Problem {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const problem = res.body as Problem;
  expect(problem).toMatchObject({ status, code });
  expect(typeof problem.title).toBe('string');
  expect(typeof problem.detail).toBe('string');
  expect(typeof problem.type).toBe('string');
  return problem;
}

/** A 400 VALIDATION_FAILED that names `path` among its field errors. */
export function expectFieldError(res: AnyResponse, path: string): Problem {
  const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
  expect(
    problem.errors?.map((e) => e.path),
    JSON.stringify(problem),
  ).toContain(path);
  return problem;
}

export const SHIPPING = { name: 'Sam Shopper', line1: '1 Market Street', city: 'Springfield', postalCode: '12345', country: 'US' } as const;

export function checkoutBody(cardToken: string): { payment: { method: 'card'; token: string }; shippingAddress: typeof SHIPPING } {
  return { payment: { method: 'card', token: cardToken }, shippingAddress: SHIPPING };
}

/** Runs `work` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The `agora-signature` header a provider sends: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. */
export function signWebhook(rawBody: string, timestampSeconds: number, secret: string = WEBHOOK_SECRET): string {
  return `t=${timestampSeconds},v1=${createHmac('sha256', secret).update(`${timestampSeconds}.${rawBody}`, 'utf8').digest('hex')}`;
}

/**
 * Polls `probe` until `done` holds for what it returns, and returns that; fails at the deadline
 * with the last value. For effects that are eventual by design (a webhook's outcome, the cart
 * cleared after an asynchronous confirmation), never to paper over a race.
 */
export async function eventually<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let pause = 25;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms; last ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 250);
  }
}

// ------------------------------------------------------------------------------------------------
// A running shop: the system, an admin, and the stock every scenario set (for the invariants).

const suffix = (): string => randomUUID().slice(0, 8).toUpperCase();

export class Shop {
  readonly api: Api;
  /** On hand per SKU as first set by a test: the conservation law's starting point. */
  readonly initialStock = new Map<string, number>();
  private constructor(
    readonly system: RunningSystem,
    readonly adminToken: string,
  ) {
    this.api = new Api(system.baseUrl);
  }

  static async open(variant: SystemVariant, env?: Record<string, string>): Promise<Shop> {
    const system = await startSystem(variant.backend, { nats: variant.nats, ...(env ? { env } : {}) });
    try {
      const login = await new Api(system.baseUrl).post<{ token: string }>('/api/v1/auth/login', ADMIN);
      expect(login.status, login.text).toBe(200);
      return new Shop(system, login.body.token);
    } catch (err) {
      await system.stop();
      throw err;
    }
  }

  stop(): Promise<void> {
    return this.system.stop();
  }

  storage(service: 'inventory' | 'order' | 'payment'): Promise<Storage> {
    return this.system.agora.storages.forService(service);
  }

  async register(prefix = 'shopper'): Promise<Shopper> {
    const email = uniqueEmail(prefix);
    const res = await this.api.post<{ user: { id: string }; token: string }>('/api/v1/auth/register', { email, password: 'correct horse battery', name: 'Shopper' });
    expect(res.status, res.text).toBe(201);
    return { id: res.body.user.id, email, token: res.body.token };
  }

  /** Registers `count` shoppers, `concurrency` at a time (scrypt is deliberately slow). */
  registerMany(count: number, concurrency = 8, prefix = 'buyer'): Promise<Shopper[]> {
    return mapLimit(
      Array.from({ length: count }, (_, i) => i),
      concurrency,
      () => this.register(prefix),
    );
  }

  /** Creates a product with one variant per price; returns it and its SKUs. */
  async product(prices: readonly number[], prefix = 'SKU'): Promise<{ product: Product; skus: string[] }> {
    const tag = suffix();
    const variants = prices.map((amount, i) => ({ sku: `${prefix}-${tag}-${i}`, title: `Variant ${i}`, price: { amount, currency: 'USD' } }));
    const res = await this.api.post<Product>(
      '/api/v1/admin/products',
      { name: `Product ${tag}`, description: 'an API test fixture', category: 'test', variants },
      { token: this.adminToken },
    );
    expect(res.status, res.text).toBe(201);
    return { product: res.body, skus: variants.map((v) => v.sku) };
  }

  /** Sets the stock of a SKU, once per SKU: the invariants count from this number. */
  async stock(sku: string, onHand: number): Promise<void> {
    expect(this.initialStock.has(sku), `stock of ${sku} is set once per scenario`).toBe(false);
    const res = await this.api.put(`/api/v1/admin/inventory/${encodeURIComponent(sku)}`, { onHand }, { token: this.adminToken });
    expect(res.status, res.text).toBe(200);
    this.initialStock.set(sku, onHand);
  }

  /** A new one-variant product with this price and stock; returns its SKU. */
  async sku(price: number, onHand: number, prefix = 'SKU'): Promise<string> {
    const { skus } = await this.product([price], prefix);
    const sku = skus[0] as string;
    await this.stock(sku, onHand);
    return sku;
  }

  async available(sku: string): Promise<number> {
    const res = await this.api.get<{ sku: string; available: number }>(`/api/v1/inventory/${encodeURIComponent(sku)}`);
    expect(res.status, res.text).toBe(200);
    return res.body.available;
  }

  /** On hand and reserved as the inventory database holds them (reserved is not public). */
  async stockRow(sku: string): Promise<{ onHand: number; reserved: number }> {
    const row = (await inventoryTotals(await this.storage('inventory'))).find((t) => t.sku === sku);
    if (!row) throw new Error(`no stock row for ${sku}`);
    return { onHand: row.onHand, reserved: row.reserved };
  }

  async add(shopper: Shopper, sku: string, quantity: number): Promise<Cart> {
    const res = await this.api.post<Cart>('/api/v1/cart/items', { sku, quantity }, { token: shopper.token });
    expect(res.status, res.text).toBe(200);
    return res.body;
  }

  async cart(shopper: Shopper): Promise<Cart> {
    const res = await this.api.get<Cart>('/api/v1/cart', { token: shopper.token });
    expect(res.status, res.text).toBe(200);
    return res.body;
  }

  checkout(shopper: Shopper, cardToken: string, idempotencyKey: string = randomUUID()): Promise<ApiResponse<CheckoutAnswer>> {
    return this.api.post<CheckoutAnswer>('/api/v1/checkout', checkoutBody(cardToken), { token: shopper.token, headers: { 'idempotency-key': idempotencyKey } });
  }

  /** Adds the lines and checks out with tok_visa; returns the CONFIRMED order. */
  async buy(shopper: Shopper, lines: readonly [sku: string, quantity: number][]): Promise<Order> {
    for (const [sku, quantity] of lines) await this.add(shopper, sku, quantity);
    const res = await this.checkout(shopper, 'tok_visa');
    expect(res.status, res.text).toBe(201);
    expect(res.body.status).toBe('CONFIRMED');
    return res.body;
  }

  async order(shopper: Shopper, orderId: string): Promise<Order> {
    const res = await this.api.get<Order>(`/api/v1/orders/${orderId}`, { token: shopper.token });
    expect(res.status, res.text).toBe(200);
    return res.body;
  }

  /** Polls GET /orders/:id until the order is in one of `statuses`; fails with its last state at the deadline. */
  waitForOrder(shopper: Shopper, orderId: string, statuses: readonly OrderStatus[], timeoutMs = 30_000): Promise<Order> {
    return eventually(
      `order ${orderId} ${statuses.join('/')}`,
      () => this.order(shopper, orderId),
      (order) => statuses.includes(order.status),
      timeoutMs,
    );
  }

  /** Every order of the shopper, walking the cursor pages. */
  async allOrders(shopper: Shopper, pageSize = 100): Promise<Order[]> {
    const orders: Order[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `/api/v1/orders?limit=${pageSize}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await this.api.get<Page<Order>>(path, { token: shopper.token });
      expect(res.status, res.text).toBe(200);
      orders.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor !== null);
    return orders;
  }

  /** Authorize attempts the payment service made with the provider for an order (every retry counts). */
  async authorizeAttempts(orderId: string): Promise<number> {
    const [row] = await (await this.storage('payment')).query<{ n: number }>(sql`
      select count(*)::int as n from payment.attempts a join payment.intents i on i.id = a.intent_id
      where i.order_id = ${orderId}::uuid and a.operation = 'authorize'`);
    return row?.n ?? 0;
  }

  /** The conservation laws over this shop's databases, from the stock the scenarios set. */
  async invariants(options: { allowInFlight?: boolean } = {}): Promise<InvariantReport> {
    return checkInvariants({
      inventory: await this.storage('inventory'),
      orders: await this.storage('order'),
      payment: await this.storage('payment'),
      initialStock: this.initialStock,
      ...options,
    });
  }

  /** Asserts the conservation laws hold and nothing is in flight; returns the report. */
  async expectInvariants(): Promise<InvariantReport> {
    const report = await this.invariants();
    expect(report.violations, JSON.stringify(report)).toEqual([]);
    return report;
  }
}
