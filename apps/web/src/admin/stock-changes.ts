import { useEffect, useState } from 'react';
import { availabilityOf } from '../availability';
import { Store, useStore } from '../store';
import type { StockLevel } from '../types';

/**
 * SKUs whose stock was set in this tab. Product lists come from catalog's storefront cache, which
 * learns of a stock change from an event a moment later; for these SKUs the lists read the
 * availability afresh from inventory instead, so a saved number shows at once.
 */
export const stockChanges = new Store<ReadonlySet<string>>(new Set());

export function recordStockChange(level: StockLevel): void {
  stockChanges.set(new Set([...stockChanges.get(), level.sku]));
}

/** Fresh availability of the listed SKUs whose stock was set here (an empty map for the rest). */
export function useFreshAvailability(skus: readonly string[]): ReadonlyMap<string, number> {
  const changed = useStore(stockChanges);
  const wanted = skus.filter((sku) => changed.has(sku)).join(' ');
  const [fresh, setFresh] = useState<ReadonlyMap<string, number>>(new Map());
  useEffect(() => {
    if (!wanted) return;
    const controller = new AbortController();
    availabilityOf(wanted.split(' '), controller.signal).then(setFresh, (err: unknown) => {
      if (!controller.signal.aborted) console.warn('fresh availability could not be read', err);
    });
    return () => controller.abort();
  }, [wanted]);
  return fresh;
}
