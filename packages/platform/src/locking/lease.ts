import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../telemetry/logger.js';
import {
  LOCK_DEFAULTS,
  LockLostError,
  LockUnavailableError,
  assertLeaseMs,
  resolveAcquireOptions,
  resolveRenewEveryMs,
  type AcquireOptions,
  type FencingToken,
  type HeldLock,
  type LeaseOptions,
  type LockLossReason,
  type LockManager,
  type LockManagerOptions,
  type WithLockOptions,
} from './lock.js';

/**
 * What an adapter stores; the waiting, timers and loss notices around it are shared by every
 * adapter (LeaseLockManager), so they cannot differ in semantics. `owner` is random per acquire
 * call and `token` unique per name, so compare-and-set on both can never match another holder.
 */
export interface LeaseStore {
  /**
   * Takes the lease of `name` for `owner` when nobody holds it, drawing the next token. Also when
   * `owner` already holds it: an attempt whose reply was lost is retried with the same owner.
   * Resolves undefined when another owner holds it.
   */
  take(name: string, owner: string, leaseMs: number): Promise<FencingToken | undefined>;
  /** Restarts the lease for `leaseMs` if `owner` still holds it with `token`; false otherwise. */
  renew(name: string, owner: string, token: FencingToken, leaseMs: number): Promise<boolean>;
  /** Ends the lease if `owner` still holds it with `token`; false otherwise. */
  drop(name: string, owner: string, token: FencingToken): Promise<boolean>;
  /** Releases what the store owns (a connection it opened); never the caller's storage. */
  close(): Promise<void>;
}

/** Sleeps `ms`; an abort rejects with the signal's own reason (not Node's generic AbortError). */
async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
  } catch (err) {
    signal?.throwIfAborted();
    throw err;
  }
}

/** Monotonic milliseconds: a wall-clock step (NTP, an operator) must not lengthen a lease. */
const monotonicNow = (): number => performance.now();

/** The lease as the holder sees it: shorter than the store's by the drift allowance. */
function localDeadline(sentAt: number, leaseMs: number): number {
  return sentAt + leaseMs - leaseMs * LOCK_DEFAULTS.driftFactor - LOCK_DEFAULTS.driftMarginMs;
}

/** The one implementation of the lock port, over any {@link LeaseStore}. */
export class LeaseLockManager implements LockManager {
  private readonly held = new Set<HeldLease>();
  private readonly logger: Logger;
  private closed = false;

  constructor(
    private readonly store: LeaseStore,
    options: LockManagerOptions,
  ) {
    this.logger = options.logger;
  }

  async acquire(name: string, options: AcquireOptions): Promise<HeldLock> {
    const { leaseMs, waitMs } = resolveAcquireOptions(name, options);
    this.assertOpen();
    // One owner for every attempt of this call: an attempt that took the lease but lost its reply
    // is recognised by the next one instead of leaving the caller waiting on itself.
    const owner = randomUUID();
    const deadline = monotonicNow() + waitMs;
    let delayMs: number = LOCK_DEFAULTS.retryMinMs;
    // Bounded by `deadline`: every iteration either returns, throws, or sleeps toward it.
    for (let attempts = 1; ; attempts++) {
      options.signal?.throwIfAborted();
      const sentAt = monotonicNow();
      const token = await this.store.take(name, owner, leaseMs);
      if (token !== undefined) return this.hold(name, owner, token, leaseMs, sentAt);
      const leftMs = deadline - monotonicNow();
      if (leftMs <= 0) throw new LockUnavailableError(name, waitMs, attempts);
      // Jitter keeps waiters that started together from polling in lockstep.
      await pause(Math.min(leftMs, delayMs / 2 + Math.random() * (delayMs / 2)), options.signal);
      delayMs = Math.min(delayMs * 2, LOCK_DEFAULTS.retryMaxMs);
    }
  }

  async tryAcquire(name: string, options: LeaseOptions): Promise<HeldLock | undefined> {
    try {
      return await this.acquire(name, { leaseMs: options.leaseMs, waitMs: 0 });
    } catch (err) {
      if (err instanceof LockUnavailableError) return undefined;
      throw err;
    }
  }

  async withLock<T>(name: string, options: WithLockOptions, work: (lock: HeldLock) => Promise<T>): Promise<T> {
    const renewEveryMs = resolveRenewEveryMs(options);
    const lock = await this.acquire(name, options);
    let renewing = false;
    const renew = async (): Promise<void> => {
      if (renewing || !lock.isHeld()) return;
      renewing = true;
      try {
        await lock.extend();
      } catch (err) {
        // A lost lock has already aborted `lock.signal`, which `work` watches; a failed round trip
        // is retried on the next tick while the lease still runs.
        if (err instanceof LockLostError) this.logger.warn({ lock: name, token: String(lock.token), reason: err.reason }, 'locking: lease lost during work');
        else this.logger.warn({ err, lock: name }, 'locking: lease renewal failed; retrying on the next tick');
      } finally {
        renewing = false;
      }
    };
    const timer = setInterval(() => void renew(), renewEveryMs);
    timer.unref();
    try {
      return await work(lock);
    } finally {
      clearInterval(timer);
      await lock.release().catch((err: unknown) => this.logger.warn({ err, lock: name }, 'locking: release failed; the lease runs out on its own'));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const releases = await Promise.allSettled([...this.held].map((lease) => lease.end('closed')));
    for (const result of releases) {
      if (result.status === 'rejected') this.logger.warn({ err: result.reason }, 'locking: release at close failed; the lease runs out on its own');
    }
    await this.store.close();
  }

  private hold(name: string, owner: string, token: FencingToken, leaseMs: number, sentAt: number): HeldLease {
    if (token <= 0n) throw new Error(`locking: the store returned token ${token} for "${name}"; tokens start at 1`);
    const lease = new HeldLease(this.store, name, owner, token, leaseMs, sentAt, (ended) => this.held.delete(ended));
    if (lease.isHeld()) this.held.add(lease);
    else void lease.end('expired').catch((err: unknown) => this.logger.warn({ err, lock: name }, 'locking: could not give back a lease that arrived expired'));
    return lease;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('lock manager is closed');
  }
}

/**
 * A held lease. Once lost it stays lost, even if a late extend would have succeeded at the store:
 * `signal` cannot un-abort, and work that saw it abort has already stopped.
 */
class HeldLease implements HeldLock {
  private readonly controller = new AbortController();
  private deadline = 0;
  private timer: NodeJS.Timeout | undefined;
  private ending: Promise<boolean> | undefined;
  private currentLeaseMs: number;

  constructor(
    private readonly store: LeaseStore,
    readonly name: string,
    private readonly owner: string,
    readonly token: FencingToken,
    leaseMs: number,
    sentAt: number,
    /** Told once, when the lease is lost; may be called from the constructor (a lease born expired). */
    private readonly onEnd: (lease: HeldLease) => void,
  ) {
    this.currentLeaseMs = leaseMs;
    this.startLease(sentAt, leaseMs);
  }

  get leaseMs(): number {
    return this.currentLeaseMs;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  isHeld(): boolean {
    return !this.controller.signal.aborted && monotonicNow() < this.deadline;
  }

  remainingMs(): number {
    return this.isHeld() ? Math.max(0, Math.floor(this.deadline - monotonicNow())) : 0;
  }

  async extend(leaseMs: number = this.currentLeaseMs): Promise<void> {
    assertLeaseMs(leaseMs);
    this.throwIfLost();
    const sentAt = monotonicNow();
    const renewed = await this.store.renew(this.name, this.owner, this.token, leaseMs);
    if (!renewed) this.lose('superseded');
    if (this.controller.signal.aborted) {
      // Lost locally while the renewal was in flight: give back what the store just extended.
      if (renewed) await this.store.drop(this.name, this.owner, this.token);
      this.throwIfLost();
    }
    this.currentLeaseMs = leaseMs;
    this.startLease(sentAt, leaseMs);
  }

  release(): Promise<boolean> {
    return this.end('released');
  }

  /** Marks the lease lost for `reason` and gives it back at the store; the first call decides. */
  end(reason: LockLossReason): Promise<boolean> {
    this.ending ??= (async () => {
      this.lose(reason);
      // Even a lease expired by the local clock may still be ours at the store (the drift margin):
      // compare-and-delete frees it early and can never touch another holder's.
      return this.store.drop(this.name, this.owner, this.token);
    })();
    return this.ending;
  }

  private startLease(sentAt: number, leaseMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.deadline = localDeadline(sentAt, leaseMs);
    const inMs = this.deadline - monotonicNow();
    if (inMs <= 0) {
      // The reply took longer than the lease: born lost, and the caller sees it at once.
      this.lose('expired');
      return;
    }
    this.timer = setTimeout(() => this.lose('expired'), inMs);
    this.timer.unref();
  }

  private lose(reason: LockLossReason): void {
    if (this.controller.signal.aborted) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.controller.abort(new LockLostError(this.name, this.token, reason));
    this.onEnd(this);
  }

  private throwIfLost(): void {
    if (this.controller.signal.aborted) throw this.controller.signal.reason as LockLostError;
    if (monotonicNow() >= this.deadline) {
      // The timer has not fired yet (a busy event loop), but the lease is over all the same.
      this.lose('expired');
      throw this.controller.signal.reason as LockLostError;
    }
  }
}
