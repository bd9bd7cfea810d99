import { AppError, ConfigError, LIMITS, type EnvReader } from '@agora/kernel';
import type { Metrics } from '@agora/platform';

/**
 * Admission control: at most `maxInFlight` pieces of work run at once, at most `maxQueued` wait
 * for a slot in FIFO order, and none waits longer than `queueWaitMs`. Work that cannot be admitted
 * is refused with 503 UNAVAILABLE and a Retry-After BEFORE it starts, so the client learns at
 * once that nothing happened and may retry with the same Idempotency-Key — instead of waiting out
 * the gateway's timeout and getting a 503 that says nothing about whether the work ran.
 *
 * A slot is held until the checkout answers. One that answers 202 (its saga runs on, see
 * app/checkout) frees its slot then: the gate bounds the requests being served, not the sagas
 * still running in the background (recovery and the stock and payment services bound those).
 */
export interface AdmissionLimits {
  /** Work running at once. */
  maxInFlight: number;
  /** Work waiting for a slot; one more is refused at once. */
  maxQueued: number;
  /** Longest wait for a slot; a waiter still queued after this is refused. */
  queueWaitMs: number;
}

export const CHECKOUT_ADMISSION_DEFAULTS: Readonly<AdmissionLimits> = Object.freeze({
  // A checkout spends most of its life waiting on inventory and payment, holding a database
  // connection (pool of 10) only between calls: 64 keeps the pool and the callees busy while
  // the latency of each admitted checkout stays close to that of a lone one.
  maxInFlight: 64,
  // Four rounds of in-flight work: a burst of a few hundred buyers queues instead of failing.
  maxQueued: 256,
  // A checkout's answer is due half the caller's per-call budget after it arrived, its wait here
  // included (201, or 202 with the order to poll; see app/checkout): one that waited longer
  // answers as soon as its order is open. So the wait may take most of the budget, leaving a fifth
  // for opening the order and the transport: a burst of a few hundred buyers is queued and
  // answered (201, 202, 409), not refused, and a queued buyer still never meets a timeout instead.
  queueWaitMs: (LIMITS.serviceCallTimeoutMs * 4) / 5,
});

/** What a refused client is told to wait: about one queue wait, for the burst to drain. */
export const CHECKOUT_RETRY_AFTER_SECONDS = Math.ceil(CHECKOUT_ADMISSION_DEFAULTS.queueWaitMs / 1000);

/**
 * Environment of the checkout gate (validated at start; a bad value names its variable):
 * - AGORA_CHECKOUT_MAX_IN_FLIGHT: checkouts running at once in this process;
 * - AGORA_CHECKOUT_MAX_QUEUED: checkouts waiting for a slot before more are refused;
 * - AGORA_CHECKOUT_QUEUE_WAIT_MS: how long a checkout may wait for a slot.
 */
export const CHECKOUT_ADMISSION_ENV: Readonly<Record<keyof AdmissionLimits, string>> = Object.freeze({
  maxInFlight: 'AGORA_CHECKOUT_MAX_IN_FLIGHT',
  maxQueued: 'AGORA_CHECKOUT_MAX_QUEUED',
  queueWaitMs: 'AGORA_CHECKOUT_QUEUE_WAIT_MS',
});

const BOUNDS: Readonly<Record<keyof AdmissionLimits, { min: number; max: number }>> = {
  maxInFlight: { min: 1, max: 10_000 },
  // 0: no queue, refuse whatever finds every slot taken.
  maxQueued: { min: 0, max: 100_000 },
  // Below the gateway's per-call timeout: a longer wait would be the silent timeout again.
  queueWaitMs: { min: 1, max: LIMITS.serviceCallTimeoutMs - 1 },
};

const KEYS = Object.keys(CHECKOUT_ADMISSION_DEFAULTS) as (keyof AdmissionLimits)[];

export function checkoutAdmissionFromEnv(env: EnvReader): AdmissionLimits {
  return env.ints(CHECKOUT_ADMISSION_ENV, CHECKOUT_ADMISSION_DEFAULTS, BOUNDS);
}

export type RefusalReason = 'queue_full' | 'wait_timeout';

/** Told of every change, for metrics. */
export interface AdmissionObserver {
  inFlightChanged(delta: 1 | -1): void;
  queuedChanged(delta: 1 | -1): void;
  refused(reason: RefusalReason): void;
}

/** The gate's metrics in the service's registry; deltas, so gates sharing a registry add up. */
export function checkoutAdmissionMetrics(metrics: Metrics): AdmissionObserver {
  const inFlight = metrics.gauge('agora_order_checkouts_in_flight', 'Checkouts running in this process', []);
  const queued = metrics.gauge('agora_order_checkouts_queued', 'Checkouts waiting for a slot', []);
  const refused = metrics.counter('agora_order_checkouts_refused_total', 'Checkouts refused before any work, by reason', ['reason']);
  return {
    inFlightChanged: (delta) => inFlight.inc(delta),
    queuedChanged: (delta) => queued.inc(delta),
    refused: (reason) => refused.inc({ reason }),
  };
}

interface Waiter {
  admit(): void;
  timer: NodeJS.Timeout;
}

export class AdmissionGate {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly retryAfterSeconds: number = CHECKOUT_RETRY_AFTER_SECONDS,
    private readonly observer?: AdmissionObserver,
  ) {
    for (const key of KEYS) {
      const { min, max } = BOUNDS[key];
      const value = limits[key];
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        throw new ConfigError(`admission.${key}`, `must be an integer in ${min}..${max}, got ${String(value)}`);
      }
    }
    if (!Number.isSafeInteger(retryAfterSeconds) || retryAfterSeconds < 1) {
      throw new ConfigError('admission.retryAfterSeconds', `must be a positive integer, got ${String(retryAfterSeconds)}`);
    }
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `work` once a slot is free, or throws 503 UNAVAILABLE (with Retry-After) without
   * calling it when the queue is full or the wait passes `queueWaitMs`. The slot is given back
   * however `work` ends.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.limits.maxInFlight && this.waiting.length === 0) {
      this.take();
      return Promise.resolve();
    }
    if (this.waiting.length >= this.limits.maxQueued) return Promise.reject(this.refuse('queue_full'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        admit: () => {
          clearTimeout(waiter.timer);
          this.take();
          resolve();
        },
        timer: setTimeout(() => {
          const index = this.waiting.indexOf(waiter);
          if (index < 0) return; // admitted in the same turn the timer fired
          this.waiting.splice(index, 1);
          this.observer?.queuedChanged(-1);
          reject(this.refuse('wait_timeout'));
        }, this.limits.queueWaitMs),
      };
      this.waiting.push(waiter);
      this.observer?.queuedChanged(1);
      this.assertBounds();
    });
  }

  private take(): void {
    this.running += 1;
    this.observer?.inFlightChanged(1);
    this.assertBounds();
  }

  private release(): void {
    this.running -= 1;
    this.observer?.inFlightChanged(-1);
    this.assertBounds();
    // FIFO: the slot goes to the longest waiter, never to a newcomer (acquire queues behind it).
    const next = this.waiting.shift();
    if (next) {
      this.observer?.queuedChanged(-1);
      next.admit();
    }
  }

  private refuse(reason: RefusalReason): AppError {
    this.observer?.refused(reason);
    const why = reason === 'queue_full' ? `${this.limits.maxQueued} checkouts are already waiting` : `no slot freed within ${this.limits.queueWaitMs} ms`;
    return new AppError('UNAVAILABLE', `Too many checkouts at once (${why}); nothing was done, retry with the same Idempotency-Key`, {
      retryAfterSeconds: this.retryAfterSeconds,
    });
  }

  private assertBounds(): void {
    if (this.running < 0 || this.running > this.limits.maxInFlight || this.waiting.length > this.limits.maxQueued) {
      throw new Error(`admission gate out of bounds: ${this.running} in flight (max ${this.limits.maxInFlight}), ${this.waiting.length} queued (max ${this.limits.maxQueued})`);
    }
  }
}

/** The checkout gate of one order process, sized from its environment, counted in its metrics. */
export function checkoutGate(env: EnvReader, metrics: Metrics): AdmissionGate {
  return new AdmissionGate(checkoutAdmissionFromEnv(env), CHECKOUT_RETRY_AFTER_SECONDS, checkoutAdmissionMetrics(metrics));
}
