import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '@agora/kernel';
import { inventory, type Page, type catalog } from '@agora/contracts';
import type { Metrics, ServiceResponse } from '@agora/platform';
import { isSuccess, type Upstream } from './upstream.js';

type CatalogProduct = catalog.CatalogProduct;

/** Tells the client a read was answered without one of its sources (here: live stock). */
export const DEGRADED_HEADER = 'x-agora-degraded';


function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCatalogProduct(value: unknown): value is CatalogProduct {
  return isRecord(value) && Array.isArray(value.variants) && value.variants.every((v) => isRecord(v) && typeof v.sku === 'string');
}

/** Catalog's product, checked for the one thing enrichment relies on: variants with SKUs. */
export function asCatalogProduct(body: unknown): CatalogProduct {
  if (!isCatalogProduct(body)) throw new AppError('UNAVAILABLE', 'The catalog service answered an unexpected product body', { extras: { service: 'catalog' } });
  return body;
}

export function asCatalogPage(body: unknown): Page<CatalogProduct> {
  if (!isRecord(body) || !Array.isArray(body.items) || !body.items.every(isCatalogProduct)) {
    throw new AppError('UNAVAILABLE', 'The catalog service answered an unexpected product page', { extras: { service: 'catalog' } });
  }
  const nextCursor = typeof body.nextCursor === 'string' ? body.nextCursor : null;
  return { ...body, items: body.items, nextCursor };
}


function parseAvailabilityList(response: ServiceResponse): Map<string, number> {
  if (!isSuccess(response)) throw new Error(`inventory answered ${response.status}`);
  const body = response.body;
  if (!isRecord(body) || !Array.isArray(body.items)) throw new Error('inventory answered an unexpected availability body');
  const levels = new Map<string, number>();
  for (const item of body.items) {
    if (!isRecord(item) || typeof item.sku !== 'string' || typeof item.available !== 'number' || !Number.isSafeInteger(item.available)) {
      throw new Error('inventory answered a malformed availability item');
    }
    levels.set(item.sku, Math.max(0, item.available));
  }
  return levels;
}

/**
 * Adds inventory's `available` to catalog's products. Stock is a hint on a read page, so when
 * inventory is down or answers nonsense the page is still served, every variant at 0, with a
 * warning in the log, a metric and a `x-agora-degraded: inventory` header — never a 5xx.
 */
export class AvailabilityEnricher {
  private readonly degradedReads: { inc(labels: { dependency: string }): void };

  constructor(
    private readonly upstream: Upstream,
    metrics: Metrics,
  ) {
    this.degradedReads = metrics.counter('agora_gateway_degraded_reads_total', 'Reads answered without one of their sources', ['dependency']);
  }

  async levels(request: FastifyRequest, reply: FastifyReply, skus: readonly string[]): Promise<ReadonlyMap<string, number>> {
    const unique = [...new Set(skus)];
    if (unique.length === 0) return new Map();
    const results = await Promise.allSettled(
      inventory.skuBatches(unique).map(async (batch) => {
        const query = batch.map(encodeURIComponent).join(',');
        const response = await this.upstream.call(request, 'inventory', { method: 'GET', path: `/inventory?skus=${query}`, idempotent: true });
        return parseAvailabilityList(response);
      }),
    );
    const levels = new Map<string, number>();
    const failures: string[] = [];
    for (const result of results) {
      if (result.status === 'fulfilled') for (const [sku, available] of result.value) levels.set(sku, available);
      else failures.push(result.reason instanceof Error ? result.reason.message : String(result.reason));
    }
    if (failures.length > 0) {
      request.log.warn({ dependency: 'inventory', reasons: failures }, 'serving products without live availability');
      this.degradedReads.inc({ dependency: 'inventory' });
      reply.header(DEGRADED_HEADER, 'inventory');
    }
    return levels;
  }

  async enrich(request: FastifyRequest, reply: FastifyReply, products: readonly CatalogProduct[]): Promise<catalog.Product[]> {
    const levels = await this.levels(request, reply, products.flatMap((p) => p.variants.map((v) => v.sku)));
    return products.map((product) => ({
      ...product,
      variants: product.variants.map((variant) => ({ ...variant, available: levels.get(variant.sku) ?? 0 })),
    }));
  }

  async enrichOne(request: FastifyRequest, reply: FastifyReply, product: CatalogProduct): Promise<catalog.Product> {
    const [enriched] = await this.enrich(request, reply, [product]);
    if (!enriched) throw new Error('enrichment lost the product');
    return enriched;
  }
}
