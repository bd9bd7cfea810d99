import { ServiceClient, type ServiceTransport } from '@agora/platform';
import type { AvailabilitySource } from './app/ports.js';

/**
 * SKUs per call, by the length of the query string: a page of 100 products with 50 variants each
 * would not fit one URL an HTTP server accepts (Node: 16 KiB of headers), so a rare huge page is
 * split into a few calls; a normal page or product is one.
 */
const SKU_QUERY_BUDGET_CHARS = 4_000;

function batches(skus: readonly string[]): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let length = 0;
  for (const sku of skus) {
    const cost = encodeURIComponent(sku).length + 1;
    if (current.length > 0 && length + cost > SKU_QUERY_BUDGET_CHARS) {
      out.push(current);
      current = [];
      length = 0;
    }
    current.push(sku);
    length += cost;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** The part of inventory's availability list this adapter reads (checked, not trusted). */
interface AvailabilityList {
  items: { sku: string; available: number }[];
}

/** Inventory's `GET /inventory?skus=` over the service transport (in process or HTTP). */
export class InventoryLevels implements AvailabilitySource {
  private readonly client: ServiceClient;

  constructor(transport: ServiceTransport) {
    this.client = new ServiceClient('inventory', transport);
  }

  async levels(skus: readonly string[]): Promise<Map<string, number>> {
    const levels = new Map<string, number>();
    const unique = [...new Set(skus)];
    for (const batch of batches(unique)) {
      const list = await this.client.call<AvailabilityList>({ method: 'GET', path: `/inventory?skus=${batch.map(encodeURIComponent).join(',')}`, idempotent: true });
      if (!Array.isArray(list.items)) throw new Error('inventory answered an unexpected availability body');
      for (const item of list.items) {
        if (typeof item.sku !== 'string' || !Number.isSafeInteger(item.available)) throw new Error('inventory answered a malformed availability item');
        levels.set(item.sku, Math.max(0, item.available));
      }
    }
    return levels;
  }
}
