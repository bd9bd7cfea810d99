import { useEffect, useState } from 'react';
import { availabilityOf } from '../availability';
import { Store, useStore } from '../store';
import type { StockLevel } from '../types';

/**
 * SKUs whose stock was set in this tab. Product lists come from catalog's storefront cache, which
 * learns of a stock change from an event a moment later; for these SKUs the lists read the
 * availability afresh from inventory instead, so a saved number shows at once.
 */
export interface SavedLevel {
  level: StockLevel;
  /** Saves are numbered in the order they answered. */
  seq: number;
}

export const stockChanges = new Store<ReadonlyMap<string, SavedLevel>>(new Map());
let seq = 0;

/** The level a save answered; every editor of the SKU on the page shows it too. */
export function recordStockChange(level: StockLevel): void {
  seq += 1;
  stockChanges.set(new Map([...stockChanges.get(), [level.sku, { level, seq }]]));
}

/**
 * The last level saved for `sku` since the calling editor appeared (one saved before it is old
 * news: the editor reads the level afresh).
 */
export function useSavedLevel(sku: string): StockLevel | undefined {
  const [since] = useState(() => seq);
  const saved = useStore(stockChanges).get(sku);
  return saved && saved.seq > since ? saved.level : undefined;
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
