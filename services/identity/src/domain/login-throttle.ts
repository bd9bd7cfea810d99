import { LIMITS } from '@agora/kernel';

/**
 * Failed logins are counted per normalised e-mail in a fixed window that opens at the first
 * failure. Once `maxFailures` are in, every attempt (right password or not) is refused until the
 * window closes; a successful login wipes the count.
 */
export interface ThrottlePolicy {
  maxFailures: number;
  windowMs: number;
}

export const LOGIN_THROTTLE: ThrottlePolicy = {
  maxFailures: LIMITS.loginFailuresPerWindow,
  windowMs: LIMITS.loginFailureWindowMs,
};

export interface FailureWindow {
  failures: number;
  windowStartedAt: Date;
}

export function windowEndsAt(window: FailureWindow, policy: ThrottlePolicy): Date {
  return new Date(window.windowStartedAt.getTime() + policy.windowMs);
}

/** Windows that opened at or before this instant have closed. */
export function closedWindowThreshold(now: Date, policy: ThrottlePolicy): Date {
  return new Date(now.getTime() - policy.windowMs);
}

/** Milliseconds until this e-mail may try again; 0 when it may try now. */
export function lockoutRemainingMs(window: FailureWindow | undefined, now: Date, policy: ThrottlePolicy): number {
  if (!window || window.failures < policy.maxFailures) return 0;
  return Math.max(0, windowEndsAt(window, policy).getTime() - now.getTime());
}

export function retryAfterSeconds(remainingMs: number): number {
  return Math.max(1, Math.ceil(remainingMs / 1000));
}
