import { DEFAULT_RUN_RETRY, backoffDelay, retryPolicy } from './definition.js';
import type { DriverDeps } from './driver.js';
import type { Drive } from './log-writer.js';
import { outcomeOf } from './log.js';

/** The end of a drive: a settled saga's status, its onFinished, the lease given up. */

/** COMPLETED or COMPENSATED. Without onFinished the saga is finished (and released) in the same write. */
export async function settle({ log, logger }: DriverDeps, drive: Drive, status: 'COMPLETED' | 'COMPENSATED'): Promise<void> {
  const hasFinisher = drive.definition.onFinished !== undefined;
  await log.write(drive, { status, finished: !hasFinisher, release: !hasFinisher });
  logger?.info({ sagaId: drive.row.id, saga: drive.row.name, status }, 'saga settled');
}

/** Runs onFinished (at least once overall; retried here, then by recovery) and gives the lease up. */
export async function finish({ log, logger, sleep, retryTiming }: DriverDeps, drive: Drive): Promise<void> {
  const onFinished = drive.definition.onFinished;
  if (drive.row.finishedAt === null && onFinished) {
    const policy = retryPolicy(DEFAULT_RUN_RETRY, drive.definition.finishRetry);
    const ctx = { sagaId: drive.row.id, sagaName: drive.row.name, input: drive.row.input, idempotencyKey: `${drive.row.id}:finished` };
    for (let attempt = 1; ; attempt++) {
      try {
        await onFinished.call(drive.definition, ctx, outcomeOf(drive.row));
        break;
      } catch (err) {
        logger?.warn({ sagaId: drive.row.id, attempt, err }, 'saga onFinished failed');
        if (attempt >= policy.attempts) {
          logger?.error({ sagaId: drive.row.id }, 'saga onFinished gave up for now; recovery will run it again');
          await log.write(drive, { release: true });
          return;
        }
        await sleep(backoffDelay(policy, attempt, retryTiming?.random));
      }
    }
    await log.write(drive, { finished: true, release: true });
    return;
  }
  if (drive.row.finishedAt === null) await log.write(drive, { finished: true, release: true });
  else if (drive.row.leaseOwner === log.owner) await log.write(drive, { release: true });
}
