import type { InventoryPort } from '@agora/contracts';
import type { AvailabilitySource } from './app/ports.js';

/**
 * The storefront's availability from inventory's port: in process with `agora start` (the
 * inventory's application object), over the transport in the cluster (`GET /inventory?skus=`,
 * batched by URL length). Each level is checked, not trusted.
 */
export class InventoryLevels implements AvailabilitySource {
  constructor(private readonly inventory: Pick<InventoryPort, 'availability'>) {}

  async levels(skus: readonly string[]): Promise<Map<string, number>> {
    const levels = new Map<string, number>();
    for (const item of await this.inventory.availability([...new Set(skus)])) {
      if (typeof item.sku !== 'string' || !Number.isSafeInteger(item.available)) throw new Error('inventory answered a malformed availability item');
      levels.set(item.sku, Math.max(0, item.available));
    }
    return levels;
  }
}
