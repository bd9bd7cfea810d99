import type { Metrics } from './metrics.js';

/** A connection pool as its metrics see it. */
export interface PoolStats {
  /** The most connections it may open. */
  max: number;
  /** Connections open now, idle or lent out. */
  total: number;
  idle: number;
  /** Queries waiting for a connection: the pool is the bottleneck while this stays above 0. */
  waiting: number;
}

/**
 * `agora_db_pool_connections{pool,state=idle|busy}`, `agora_db_pool_max_connections{pool}` and
 * `agora_db_pool_waiting_requests{pool}`, read from `stats` at each scrape (no query: the pool's own
 * counters). `pool` names a pool of this process (a service or shard): bounded by configuration.
 * Returns the function that stops reporting it (when the pool closes).
 */
export function reportPool(metrics: Metrics, pool: string, stats: () => PoolStats): () => void {
  const stops = [
    metrics.scraped('agora_db_pool_connections', 'Database pool connections by pool and state (idle, busy)', ['pool', 'state'], () => {
      const s = stats();
      return [
        { labels: { pool, state: 'idle' }, value: s.idle },
        { labels: { pool, state: 'busy' }, value: Math.max(0, s.total - s.idle) },
      ];
    }),
    metrics.scraped('agora_db_pool_max_connections', 'Largest size of each database pool', ['pool'], () => [{ labels: { pool }, value: stats().max }]),
    metrics.scraped('agora_db_pool_waiting_requests', 'Queries waiting for a pooled connection, by pool', ['pool'], () => [{ labels: { pool }, value: stats().waiting }]),
  ];
  return () => stops.forEach((stop) => stop());
}
