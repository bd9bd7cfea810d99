import type { Logger } from '../telemetry/logger.js';

/**
 * A fencing token: strictly increasing per lock name, across every holder and every adapter client
 * of one store. A resource that remembers the highest token it has accepted can refuse a write from
 * a holder whose lease ran out while it was paused (see fence.ts and docs/locking.md).
 */
export type FencingToken = bigint;

/**
 * The lock port: a lease lock with a fencing token. A lease is held for `leaseMs` unless extended;
 * a holder that stops (crash, partition, a long pause) loses it on its own, so nobody waits forever
 * for a dead holder. The price is that a paused holder may still *believe* it holds the lock after
 * its lease went to someone else. The lock alone therefore never protects a write: the write must
 * carry `token` to a resource that refuses stale tokens (`fencedTransaction`).
 *
 * Locks are not re-entrant: acquiring a name this process already holds waits like anyone else.
 */
export interface LockManager {
  /**
   * Takes the lock, waiting up to `waitMs` while another holder has it. Rejects with
   * {@link LockUnavailableError} when the wait is over, with the signal's reason when `signal`
   * aborts, and with a RangeError naming the limit for a bad name or option. A store that fails
   * (unreachable, timed out) rejects with its own error at once: the wait is for a holder, not for
   * an outage, and the caller's own retry policy decides about those.
   */
  acquire(name: string, options: AcquireOptions): Promise<HeldLock>;
  /** One attempt: the lock, or undefined when another holder has it. For "whoever gets it runs the job". */
  tryAcquire(name: string, options: LeaseOptions): Promise<HeldLock | undefined>;
  /**
   * Acquires, runs `work` while renewing the lease every `renewEveryMs` (default a third of the
   * lease), then releases — also when `work` throws. Renewal cannot outlive a paused or partitioned
   * process: `work` must watch `lock.signal` and fence its writes with `lock.token`.
   */
  withLock<T>(name: string, options: WithLockOptions, work: (lock: HeldLock) => Promise<T>): Promise<T>;
  /** Releases every lock still held through this manager and closes the store's connection if it owns one. */
  close(): Promise<void>;
}

export interface LeaseOptions {
  /** How long the lease lasts from the moment it is taken (or extended), by the store's clock. */
  leaseMs: number;
}

export interface AcquireOptions extends LeaseOptions {
  /** How long to keep trying while another holder has the lock; 0 (the default) tries once. */
  waitMs?: number;
  /** Ends the wait early (shutdown); `acquire` then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface WithLockOptions extends AcquireOptions {
  /** Default a third of `leaseMs`: two renewals can fail before the lease runs out. */
  renewEveryMs?: number;
}

/** Why a held lock stopped being held; the reason of `HeldLock.signal` once it aborts. */
export type LockLossReason =
  /** The lease ran out by this process's clock before an extend (with a margin for drift). */
  | 'expired'
  /** The store answered that this holder no longer has the lease (it expired there and may be someone else's). */
  | 'superseded'
  | 'released'
  /** The manager was closed. */
  | 'closed';

/** A lock this process holds (or held: see `signal`). */
export interface HeldLock {
  readonly name: string;
  /** Greater than the token of every earlier holder of `name`. Fence every protected write with it. */
  readonly token: FencingToken;
  /** The lease length last taken or extended. */
  readonly leaseMs: number;
  /**
   * Aborts, with a {@link LockLostError} as its reason, the moment this process knows it no longer
   * holds the lock: its lease ran out locally, the store refused an extend, or it was released.
   * A paused process learns this only after it resumes — hence fencing.
   */
  readonly signal: AbortSignal;
  /** Whether the lease is still running by this process's clock. True is a belief, not a guarantee. */
  isHeld(): boolean;
  /** Milliseconds left of the lease by this process's clock; 0 once lost. */
  remainingMs(): number;
  /**
   * Restarts the lease for `leaseMs` (default: the current length) if this holder still has it;
   * otherwise rejects with {@link LockLostError} and aborts `signal`. A failed round trip rejects
   * with the store's error and leaves the lease running out on its own.
   */
  extend(leaseMs?: number): Promise<void>;
  /**
   * Ends the lease if this holder still has it at the store (compare-and-delete: never someone
   * else's). Resolves true when it did, false when the lease had already gone. Safe to call twice.
   */
  release(): Promise<boolean>;
}

export const LOCK_LIMITS = {
  /** Names become Redis keys and row keys; 200 characters is plenty for `flash-sale:reconcile:<sku>`. */
  nameLengthMax: 200,
  /** Shorter leases expire within a few round trips under load, before the holder can use them. */
  leaseMsMin: 50,
  /** A holder that dies blocks the lock for at most this long; longer work extends (withLock does). */
  leaseMsMax: 600_000,
  /** Every wait has an end: a caller that must wait longer loops on purpose, seeing each timeout. */
  waitMsMax: 600_000,
} as const;

export const LOCK_DEFAULTS = {
  waitMs: 0,
  /** First pause between attempts while waiting; doubles up to `retryMaxMs`, with jitter. */
  retryMinMs: 5,
  /** Polling cap: a released lock is noticed within this long, at ≤ 10 attempts/s per waiter. */
  retryMaxMs: 100,
  /**
   * The holder's own view of the lease ends early by this fraction plus `driftMarginMs`, measured
   * from before the request was sent: clocks of the holder and the store run at slightly
   * different rates (the same allowance Redlock makes).
   */
  driftFactor: 0.01,
  driftMarginMs: 2,
} as const;

/** Letters, digits and `_ : . / -`: safe as a Redis key part (no `{}` hash-tag braces) and as text. */
const LOCK_NAME = /^[A-Za-z0-9_:./-]+$/;

export function assertLockName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > LOCK_LIMITS.nameLengthMax || !LOCK_NAME.test(name)) {
    throw new RangeError(
      `lock name must be 1..${LOCK_LIMITS.nameLengthMax} (LOCK_LIMITS.nameLengthMax) letters, digits or _ : . / -, got ${JSON.stringify(String(name).slice(0, 60))}`,
    );
  }
}

export function assertLeaseMs(leaseMs: number): void {
  assertIntegerIn('leaseMs', leaseMs, LOCK_LIMITS.leaseMsMin, LOCK_LIMITS.leaseMsMax, 'LOCK_LIMITS.leaseMsMin..leaseMsMax');
}

/** Validates everything `acquire` takes, before any I/O. */
export function resolveAcquireOptions(name: string, options: AcquireOptions): { leaseMs: number; waitMs: number } {
  assertLockName(name);
  if (typeof options !== 'object' || options === null) throw new TypeError('acquire options must be an object with leaseMs');
  assertLeaseMs(options.leaseMs);
  const waitMs = options.waitMs ?? LOCK_DEFAULTS.waitMs;
  assertIntegerIn('waitMs', waitMs, 0, LOCK_LIMITS.waitMsMax, '0..LOCK_LIMITS.waitMsMax');
  return { leaseMs: options.leaseMs, waitMs };
}

/** Renewal must leave room for at least one retry before the lease runs out. */
export function resolveRenewEveryMs(options: WithLockOptions): number {
  assertLeaseMs(options.leaseMs);
  const renewEveryMs = options.renewEveryMs ?? Math.floor(options.leaseMs / 3);
  const max = Math.floor(options.leaseMs / 2);
  assertIntegerIn('renewEveryMs', renewEveryMs, 1, max, 'at most half of leaseMs');
  return renewEveryMs;
}

function assertIntegerIn(field: string, value: number, min: number, max: number, limit: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${field} must be an integer in ${min}..${max} (${limit}), got ${String(value)}`);
  }
}

/** The wait for a lock ended while another holder still had it. */
export class LockUnavailableError extends Error {
  readonly code = 'LOCK_UNAVAILABLE';
  constructor(
    readonly lockName: string,
    readonly waitMs: number,
    readonly attempts: number,
  ) {
    super(`lock "${lockName}" is held by another holder (waited ${waitMs} ms, ${attempts} attempt${attempts === 1 ? '' : 's'})`);
    this.name = 'LockUnavailableError';
  }
}

/** The holder no longer has the lock; anything it writes from now on must be refused by the fence. */
export class LockLostError extends Error {
  readonly code = 'LOCK_LOST';
  constructor(
    readonly lockName: string,
    readonly token: FencingToken,
    readonly reason: LockLossReason,
  ) {
    super(`lock "${lockName}" (token ${token}) is no longer held: ${reason}`);
    this.name = 'LockLostError';
  }
}

export interface LockManagerOptions {
  logger: Logger;
}
