import type { Clock } from '@agora/kernel';
import { PeriodicTask, type Logger, type Storage } from '@agora/platform';
import { ReservationStore } from '../store/reservation-store.js';

export interface ReservationSweeperOptions {
  storage: Storage;
  clock: Clock;
  logger: Logger;
  /** Reservations claimed per transaction. */
  batchSize?: number;
  /** Called with how many reservations a sweep expired (metrics). */
  onExpired?: (count: number) => void;
}

export const SWEEP_BATCH_SIZE = 100;
/** Bound on back-to-back batches in one tick, so one tick cannot run forever behind a flood. */
export const SWEEP_BATCHES_PER_TICK = 20;

/**
 * Releases reservations that outlived their expiry. Any number of instances may run one: each
 * batch claims its rows with `FOR UPDATE SKIP LOCKED`, so two sweepers never expire the same
 * reservation and a commit racing a sweep wins or loses as a whole. No leader is needed.
 */
export class ReservationSweeper {
  private readonly store: ReservationStore;
  private readonly batchSize: number;
  private readonly loop: PeriodicTask;

  constructor(private readonly options: ReservationSweeperOptions) {
    this.store = new ReservationStore(options.storage);
    this.batchSize = options.batchSize ?? SWEEP_BATCH_SIZE;
    if (!Number.isSafeInteger(this.batchSize) || this.batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${this.batchSize}`);
    // tick() handles its own failures (a warning, then the next tick).
    this.loop = new PeriodicTask(() => this.tick(), () => undefined);
  }

  /** One batch: expires up to `batchSize` reservations whose expiry is before `now`; returns their ids. */
  async sweepOnce(now: Date = this.options.clock.now()): Promise<string[]> {
    const ids = await this.store.expireDue(now, this.batchSize);
    if (ids.length > 0) {
      this.options.onExpired?.(ids.length);
      this.options.logger.info({ expired: ids.length }, 'expired reservations released');
    }
    return ids;
  }

  /** Sweeps every `intervalMs` until `stop()`; ticks never overlap. */
  start(intervalMs: number): void {
    this.loop.start(intervalMs);
  }

  /** Stops the timer and waits for a sweep in progress to finish. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  private async tick(): Promise<void> {
    try {
      for (let batch = 0; batch < SWEEP_BATCHES_PER_TICK; batch++) {
        const ids = await this.sweepOnce();
        if (ids.length < this.batchSize) return;
      }
    } catch (err) {
      // The next tick retries: a reservation left HELD past its expiry only delays the stock's return.
      this.options.logger.warn({ err }, 'reservation sweep failed; retrying next tick');
    }
  }
}
