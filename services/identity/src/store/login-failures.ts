import { eq, lte, sql } from 'drizzle-orm';
import type { Executor } from '@agora/platform';
import { closedWindowThreshold, type FailureWindow, type ThrottlePolicy } from '../domain/login-throttle.js';
import type { LoginThrottleStore } from '../app/ports.js';
import { loginFailures } from './schema.js';

/** Failure windows in SQL, so every instance counts against the same number. */
export class SqlLoginThrottleStore implements LoginThrottleStore {
  constructor(private readonly db: Executor) {}

  async current(email: string): Promise<FailureWindow | undefined> {
    const [row] = await this.db
      .select({ failures: loginFailures.failures, windowStartedAt: loginFailures.windowStartedAt })
      .from(loginFailures)
      .where(eq(loginFailures.email, email))
      .limit(1);
    return row;
  }

  async recordFailure(email: string, now: Date, policy: ThrottlePolicy): Promise<FailureWindow> {
    // One statement, so concurrent failures on several instances all count.
    const closed = sql`${loginFailures.windowStartedAt} <= ${closedWindowThreshold(now, policy).toISOString()}::timestamptz`;
    const [row] = await this.db
      .insert(loginFailures)
      .values({ email, failures: 1, windowStartedAt: now })
      .onConflictDoUpdate({
        target: loginFailures.email,
        set: {
          failures: sql`case when ${closed} then 1 else ${loginFailures.failures} + 1 end`,
          windowStartedAt: sql`case when ${closed} then excluded.window_started_at else ${loginFailures.windowStartedAt} end`,
        },
      })
      .returning({ failures: loginFailures.failures, windowStartedAt: loginFailures.windowStartedAt });
    if (!row) throw new Error('upsert returned no row');
    return row;
  }

  async clear(email: string): Promise<void> {
    await this.db.delete(loginFailures).where(eq(loginFailures.email, email));
  }

  async prune(now: Date, policy: ThrottlePolicy): Promise<number> {
    const deleted = await this.db
      .delete(loginFailures)
      .where(lte(loginFailures.windowStartedAt, closedWindowThreshold(now, policy)))
      .returning({ email: loginFailures.email });
    return deleted.length;
  }
}
