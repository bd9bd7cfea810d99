import { EnvReader, systemClock } from '@agora/kernel';
import { EVENT_TYPES, type EventEnvelope, type StockChanged } from '@agora/contracts/events';
import { InProcessTransport, Metrics, TokenService, createHttpApp, createLogger, type EventBus, type HttpApp, type RunningService, type Storage } from '@agora/platform';
import { newId } from '@agora/kernel';
import { createCatalog, type CatalogService } from '../src/index.js';
import { productBody } from './harness.js';

/** What the fake inventory answers: available per SKU, and whether it answers at all. */
export class FakeInventory {
  readonly levels = new Map<string, number>();
  down = false;
  calls = 0;
  readonly app: HttpApp = createHttpApp({ name: 'inventory', logger: createLogger('inventory', 'silent'), metrics: new Metrics(false) });

  constructor() {
    this.app.get('/inventory', async (request, reply) => {
      this.calls++;
      if (this.down) return reply.code(503).type('application/problem+json').send({ type: 'about:blank', title: 'Unavailable', status: 503, code: 'UNAVAILABLE', detail: 'inventory is down' });
      const skus = String((request.query as { skus?: string }).skus ?? '').split(',');
      return { items: skus.filter((s) => this.levels.has(s)).map((sku) => ({ sku, available: this.levels.get(sku) ?? 0 })) };
    });
  }
}

export interface CatalogInstance {
  app: HttpApp;
  running: RunningService;
  /** Writes go through the use cases: the admin routes' caller check is not what these tests are about. */
  service: CatalogService;
  metrics: Metrics;
  stop(): Promise<void>;
}

/** One catalog instance as `agora start` or `agora service catalog` builds it, started (cache and stock consumer). */
export async function startCatalog(options: { storage: Storage; bus: EventBus; inventory: FakeInventory; env: Record<string, string> }): Promise<CatalogInstance> {
  const transport = new InProcessTransport();
  transport.register('inventory', options.inventory.app);
  const metrics = new Metrics(false);
  const { running, service } = await createCatalog({
    storage: options.storage,
    logger: createLogger('catalog', 'silent'),
    metrics,
    clock: systemClock,
    env: new EnvReader(options.env),
    transport,
    tokens: new TokenService('test-secret-that-is-at-least-32-bytes-long'),
    bus: options.bus,
  });
  await running.app.ready();
  await running.start();
  return {
    app: running.app,
    running,
    service,
    metrics,
    async stop() {
      await running.stop();
      await running.app.close();
    },
  };
}

export const STOREFRONT = { 'x-agora-include': 'availability' } as const;

export interface StorefrontProduct {
  id: string;
  name: string;
  category: string;
  variants: { sku: string; available?: number }[];
}

/** A product as the gateway reads it; throws on anything but 200. */
export async function readProduct(app: HttpApp, id: string): Promise<StorefrontProduct> {
  const res = await app.inject({ method: 'GET', url: `/products/${id}`, headers: STOREFRONT });
  if (res.statusCode !== 200) throw new Error(`GET /products/${id} answered ${res.statusCode}: ${res.body}`);
  return res.json<StorefrontProduct>();
}

export async function readPage(app: HttpApp, query: string): Promise<{ items: StorefrontProduct[]; nextCursor: string | null }> {
  const res = await app.inject({ method: 'GET', url: `/products?${query}`, headers: STOREFRONT });
  if (res.statusCode !== 200) throw new Error(`GET /products?${query} answered ${res.statusCode}: ${res.body}`);
  return res.json();
}

export async function createProduct(instance: CatalogInstance, overrides: Record<string, unknown> = {}): Promise<StorefrontProduct> {
  return instance.service.create(productBody(overrides) as unknown as Parameters<CatalogService['create']>[0]);
}

/** The fact inventory's outbox relay publishes after a stock move. */
export function stockFact(sku: string, available: number): EventEnvelope {
  const payload: StockChanged = { sku, onHand: available, reserved: 0, available, reason: 'set' };
  return { id: newId(), type: EVENT_TYPES.StockChanged, key: sku, occurredAt: new Date().toISOString(), payload };
}

/** Polls `check` until it holds; returns the milliseconds it took, throws past `timeoutMs`. */
export async function within(timeoutMs: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
