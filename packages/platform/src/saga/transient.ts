import { faultLabel } from '../resilience/faults.js';
import { backoffDelay, type TransientRetryPolicy } from './definition.js';
import type { DriverDeps } from './driver.js';
import type { Drive } from './log-writer.js';
import type { StepPhase } from './definition.js';

/**
 * Transient faults in a saga (definition.ts `TransientRetryPolicy`): one step's retries within
 * its deadline, and parking the saga when the deadline has passed.
 */

/** A step met transient faults past its deadline: the drive stops here and the saga is parked. */
export class SagaParked extends Error {
  constructor(
    readonly sagaId: string,
    readonly step: string,
    readonly phase: StepPhase,
    readonly fault: unknown,
  ) {
    super(`saga ${sagaId} parked at ${step} (${phase}): ${faultLabel(fault)}`);
    this.name = 'SagaParked';
  }
}

/** The transient faults of one step (run or compensation) in one drive. */
export class TransientRetries {
  private since: number | undefined;
  private tries = 0;

  constructor(
    readonly policy: TransientRetryPolicy,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /** The wait before trying again, or undefined once the step's deadline has passed (park it). */
  nextDelay(): number | undefined {
    const now = this.now();
    this.since ??= now;
    const left = this.since + this.policy.deadlineMs - now;
    if (left <= 0) return undefined;
    this.tries += 1;
    return Math.min(left, backoffDelay(this.policy, this.tries, this.random));
  }
}

/**
 * Parks a saga: one checkpoint that records how far the drive got and keeps the lease only for
 * `parkMs`, after which any instance's recovery claims it. When even that write fails (the
 * database is what is sick) nothing is written: the lease runs out on its own and recovery
 * replays from the last checkpoint, which every step allows.
 */
export async function park({ log, clock, logger }: DriverDeps, drive: Drive, why: unknown, parkMs: number): Promise<void> {
  const until = new Date(clock.now().getTime() + parkMs);
  try {
    await log.write(drive, { parkUntil: until });
    logger?.warn({ sagaId: drive.row.id, saga: drive.row.name, status: drive.row.status, step: drive.row.currentStep, fault: faultLabel(why), until }, 'saga parked on a transient fault; recovery resumes it');
  } catch (err) {
    logger?.warn({ sagaId: drive.row.id, saga: drive.row.name, err, fault: faultLabel(why) }, 'saga parked on a transient fault; its lease is left to expire');
  }
}
