import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '@agora/kernel';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { shardFenceOf, type ShardFence } from './fence.js';
import type { Shard, ShardRouter } from './router.js';

export const SHARD_RETRY_LIMITS = {
  /**
   * How long a write of a key being moved waits, in all, before it gives up with 503: a move's
   * freeze lasts for the key's running work plus one catch-up copy (seconds), and this stays
   * under the gateway's 10 s limit on one service call.
   */
  waitMs: 6_000,
  /** First pause between tries, doubling up to `maxPauseMs`. */
  firstPauseMs: 20,
  maxPauseMs: 250,
} as const;

/** What a caller learns of a write that met a fence: which one, and how long it waited in all. */
export interface FenceWait {
  key: string;
  fence: ShardFence;
  waitedMs: number;
  attempts: number;
}

/** The metric every fenced write counts in (a move's cost to the shoppers it moves). */
export const FENCE_WAITS_METRIC = 'agora_shard_fence_waits_total';

/** Reports each refused try: counted per service and fence, and logged with the key and the time waited so far. */
export function fenceWaitReporter(metrics: Metrics, logger: Logger, service: string): (wait: FenceWait) => void {
  const waits = metrics.counter(FENCE_WAITS_METRIC, 'writes refused by a shard fence while their key was being moved, retried', ['service', 'fence']);
  return (wait) => {
    waits.inc({ service, fence: wait.fence });
    logger.info({ ...wait, service }, 'a write waits for a shard move of its key');
  };
}

/**
 * Runs `work` on the shard that owns `key`, again (re-routed, after re-reading the map) while a
 * shard fence refuses it: the key is being moved (wait) or has moved (route anew). Bounded by
 * `SHARD_RETRY_LIMITS.waitMs`; past it an UNAVAILABLE error with Retry-After. `work` must be safe
 * to run again after a refusal — a fenced statement changed nothing.
 */
export async function onKeyShard<T>(router: ShardRouter, key: string, work: (shard: Shard) => Promise<T>, onWait?: (wait: FenceWait) => void): Promise<T> {
  const started = Date.now();
  let pause: number = SHARD_RETRY_LIMITS.firstPauseMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await work(router.shardFor(key));
      return result;
    } catch (err) {
      const fence = shardFenceOf(err);
      if (!fence) throw err;
      const waitedMs = Date.now() - started;
      onWait?.({ key, fence, waitedMs, attempts: attempt });
      if (waitedMs >= SHARD_RETRY_LIMITS.waitMs) {
        throw new AppError('UNAVAILABLE', 'this account is being moved between database shards; try again in a moment', { retryAfterSeconds: 1, cause: err });
      }
      if (fence === 'moved') await router.refresh?.();
      await sleep(pause);
      if (fence === 'moving') await router.refresh?.();
      pause = Math.min(pause * 2, SHARD_RETRY_LIMITS.maxPauseMs);
    }
  }
}
