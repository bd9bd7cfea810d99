import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { pgliteBackend } from '@agora/platform/testing';
import { ADMIN, startSystem, type RunningSystem, type SystemOptions } from '../support/system.js';
import { Api, uniqueEmail } from '../support/http.js';
import { saleBody } from '../support/flash-sale.js';
import { eventually } from '../support/shop.js';
import { CHROMIUM, buildWebApp, chromiumAvailable, chromiumRequiredButMissing, launchChromium, openPage, signInWithToken, type WatchedPage } from './browser.js';

/** What the browser tests read from the API to set a scene (the public bodies, as far as they need). */
export interface Variant {
  sku: string;
  title: string;
  price: { amount: number; currency: string };
  available: number;
}
export interface Product {
  id: string;
  name: string;
  category: string;
  variants: Variant[];
}
export interface Session {
  token: string;
  user: { id: string; name: string; email: string; role: string };
}

/** An order as the pages under test show it (the public body, as far as the tests read it). */
export interface OrderSummary {
  id: string;
  userId: string;
  status: string;
  payBy?: string;
}

export const ADDRESS = { line1: '1 Market Street', city: 'Springfield', postalCode: '12345' };

/** What a browser test file runs against: the whole system in process (embedded PGlite), serving the built web app. */
type ShopOptions = Pick<SystemOptions, 'demoProducts' | 'env'>;

/**
 * A browser test file: `tests` run against one Shop, started before them (web app built when
 * stale, system, Chromium) and stopped after. Without Chromium the file is skipped with a
 * message, or fails when AGORA_REQUIRE_SERVICES=1 (CI) says it must run.
 */
export function describeInChromium(title: string, options: ShopOptions, tests: (shop: Shop) => void): void {
  if (chromiumRequiredButMissing()) {
    describe(title, () => {
      it('needs Chromium', () => {
        throw new Error(`AGORA_REQUIRE_SERVICES=1 but ${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
      });
    });
  }
  describe.runIf(chromiumAvailable())(title, () => {
    const shop = new Shop(options);
    beforeAll(() => shop.start());
    afterAll(() => shop.stop());
    tests(shop);
  });
}

/** One system, one browser, and the scene-setting a test needs: shoppers, stock, pages. */
export class Shop {
  private running: RunningSystem | undefined;
  private browser: Browser | undefined;
  private client: Api | undefined;
  private readonly opened: WatchedPage[] = [];

  constructor(private readonly options: ShopOptions) {}

  async start(): Promise<void> {
    const webRoot = buildWebApp();
    this.running = await startSystem(pgliteBackend, { ...this.options, webRoot });
    this.client = new Api(this.running.baseUrl);
    this.browser = await launchChromium();
  }

  /** Closes what start opened, as far as it got. */
  async stop(): Promise<void> {
    for (const { context } of this.opened) await context.close().catch((err: unknown) => console.warn('closing a browser context', err));
    await this.browser?.close();
    await this.running?.stop();
  }

  get system(): RunningSystem {
    if (!this.running) throw new Error('the shop is not started (describeInChromium starts it before the tests)');
    return this.running;
  }

  get api(): Api {
    if (!this.client) throw new Error('the shop is not started (describeInChromium starts it before the tests)');
    return this.client;
  }

  async open(viewport?: { width: number; height: number }): Promise<WatchedPage> {
    if (!this.browser) throw new Error('the shop is not started (describeInChromium starts it before the tests)');
    const watched = await openPage(this.browser, this.system.baseUrl, viewport);
    this.opened.push(watched);
    return watched;
  }

  /** A page whose app starts signed in as `session`. */
  async openSignedIn(session: Session, viewport?: { width: number; height: number }): Promise<WatchedPage> {
    const watched = await this.open(viewport);
    await signInWithToken(watched.context, session);
    return watched;
  }

  async openAsAdmin(viewport?: { width: number; height: number }): Promise<WatchedPage> {
    const login = await this.api.post<Session>('/api/v1/auth/login', ADMIN);
    expect(login.status).toBe(200);
    return this.openSignedIn(login.body, viewport);
  }

  /** A demo product with a variant that has at least `minimum` in stock, not one of `skip`. */
  async productInStock(minimum: number, skip: readonly string[] = []): Promise<{ product: Product; variant: Variant }> {
    const page = await this.api.get<{ items: Product[] }>('/api/v1/products?limit=50');
    for (const product of page.body.items) {
      if (skip.includes(product.id)) continue;
      const variant = product.variants.find((v) => v.available >= minimum);
      if (variant) return { product, variant };
    }
    throw new Error(`no demo product has ${minimum} in stock`);
  }

  async registerShopper(name = 'Casey Cart'): Promise<Session> {
    const res = await this.api.post<Session>('/api/v1/auth/register', { email: uniqueEmail(), password: 'browser-pass-1', name });
    expect(res.status).toBe(201);
    return res.body;
  }

  async adminToken(): Promise<string> {
    const res = await this.api.post<Session>('/api/v1/auth/login', ADMIN);
    expect(res.status).toBe(200);
    return res.body.token;
  }

  /** A shopper whose cart holds `quantity` of `sku`. */
  async shopperWithCart(sku: string, quantity: number): Promise<Session> {
    const session = await this.registerShopper();
    const add = await this.api.post('/api/v1/cart/items', { sku, quantity }, { token: session.token });
    expect(add.status).toBe(200);
    return session;
  }

  /** A product of one variant with exactly `onHand` units (no stock kept at all when undefined), made through the admin API. */
  async createProduct(name: string, onHand: number | undefined, priceCents = 1500): Promise<{ product: Product; sku: string }> {
    const token = await this.adminToken();
    const sku = `BRT-${Date.now().toString(36).toUpperCase()}-${Math.random().toString(36).slice(2, 6).toUpperCase()}`;
    const body = { name, description: 'Made by a browser test.', category: 'office', variants: [{ sku, title: 'Standard', price: { amount: priceCents, currency: 'USD' } }] };
    const created = await this.api.post<Product>('/api/v1/admin/products', body, { token, headers: { 'idempotency-key': `create-${sku}` } });
    expect(created.status).toBe(201);
    if (onHand !== undefined) {
      const stock = await this.api.put(`/api/v1/admin/inventory/${sku}`, { onHand }, { token });
      expect(stock.status).toBe(200);
    }
    return { product: created.body, sku };
  }

  /** A flash sale of `units` × `sku`, on now, made through the admin API (`paymentWindowSeconds` absent: the shop's default). */
  async createFlashSale(sku: string, units: number, paymentWindowSeconds?: number): Promise<{ id: string }> {
    const body = { ...saleBody(sku, units, 1), ...(paymentWindowSeconds === undefined ? {} : { paymentWindowSeconds }) };
    const created = await this.api.post<{ id: string }>('/api/v1/admin/flash-sales', body, { token: await this.adminToken() });
    expect(created.status, created.text).toBe(201);
    return created.body;
  }

  /**
   * `buyer` buys one unit of the sale through the API, and the order it becomes once it is open
   * (RESERVED, awaiting payment): the ticket is turned into an order by consumers, a moment later.
   */
  async flashSaleOrder(saleId: string, buyer: Session): Promise<OrderSummary> {
    const bought = await this.api.post<{ ticketId: string }>(`/api/v1/flash-sales/${saleId}/purchase`, { quantity: 1 }, { token: buyer.token, headers: { 'idempotency-key': randomUUID() } });
    expect(bought.status, bought.text).toBe(202);
    const opened = await eventually(
      'flash-sale order opened',
      () => this.api.get<OrderSummary>(`/api/v1/orders/${bought.body.ticketId}`, { token: buyer.token }),
      (res) => res.status === 200 && res.body.status === 'RESERVED',
    );
    return opened.body;
  }
}

export async function fillAddress(page: Page): Promise<void> {
  await page.getByLabel('Street address').fill(ADDRESS.line1);
  await page.getByLabel('City').fill(ADDRESS.city);
  await page.getByLabel('Postal code').fill(ADDRESS.postalCode);
}

/** How far the page scrolls sideways (0 when it fits its viewport). */
export const sidewaysOverflow = (page: Page): Promise<number> => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') as Promise<number>;

/** The tag and text of the focused element, or BODY when focus was dropped. */
export const focused = (page: Page): Promise<string> =>
  page.evaluate('document.activeElement ? document.activeElement.tagName + " " + (document.activeElement.textContent || "").trim() : "none"') as Promise<string>;
