import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Redis } from 'ioredis';
import { connect } from '@nats-io/transport-node';

export interface BackendUrls {
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  natsUrl: string | undefined;
}

const CHECK_TIMEOUT_MS = 3_000;

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

async function checkPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CHECK_TIMEOUT_MS });
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: CHECK_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // ioredis reports connection errors as events; keep the first to name the cause.
  let cause: Error | undefined;
  redis.on('error', (err: Error) => {
    cause ??= err;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw cause ?? err;
  } finally {
    redis.disconnect();
  }
}

async function checkNats(url: string): Promise<void> {
  const nc = await connect({ servers: url, timeout: CHECK_TIMEOUT_MS, maxReconnectAttempts: 0, reconnect: false });
  await nc.close();
}

/** How `agora service` waits for backends that are down when it starts. */
export const BACKENDS_WAIT = {
  /** AGORA_BACKENDS_WAIT_MS: how long a starting service waits for its backends before it gives up. */
  variable: 'AGORA_BACKENDS_WAIT_MS',
  defaultMs: 30_000,
  maxMs: 600_000,
  firstPauseMs: 250,
  maxPauseMs: 2_000,
} as const;

/**
 * The cluster needs real PostgreSQL, Redis and NATS. Checks each one and fails with one message
 * naming every backend that is missing or does not answer, so an operator fixes them all at once.
 *
 * With `waitMs`, a backend that does not answer yet is asked again (backing off) until that long
 * has passed: a service started while its database restarts (a rolling restart, a failover, a
 * machine that boots everything at once) comes up once the database does, instead of exiting
 * and leaving its supervisor's growing restart delay (CrashLoopBackOff) to decide when it serves
 * again. A variable that is not set fails at once: waiting does not fix a configuration.
 */
export async function requireBackends(urls: BackendUrls, options: { waitMs?: number; onWait?: (problems: readonly string[], waitedMs: number) => void } = {}): Promise<void> {
  const started = Date.now();
  let pause: number = BACKENDS_WAIT.firstPauseMs;
  for (let round = 0; ; round++) {
    const { unset, unreachable } = await checkBackends(urls);
    const problems = [...unset, ...unreachable];
    if (problems.length === 0) return;
    const waited = Date.now() - started;
    if (unset.length > 0 || waited + pause > (options.waitMs ?? 0)) throw new BackendsUnavailable(problems);
    if (round === 0) options.onWait?.(problems, waited);
    await sleep(pause);
    pause = Math.min(pause * 2, BACKENDS_WAIT.maxPauseMs);
  }
}

async function checkBackends(urls: BackendUrls): Promise<{ unset: string[]; unreachable: string[] }> {
  const unset: string[] = [];
  const unreachable: string[] = [];
  const checks: Promise<void>[] = [];
  const check = (name: string, variable: string, url: string | undefined, run: (url: string) => Promise<void>) => {
    if (!url) {
      unset.push(`${name}: ${variable} is not set`);
      return;
    }
    checks.push(
      run(url).catch((err: unknown) => {
        unreachable.push(`${name} at ${redact(url)} is unreachable (${err instanceof Error ? err.message : String(err)})`);
      }),
    );
  };
  check('PostgreSQL', 'DATABASE_URL', urls.databaseUrl, checkPostgres);
  check('Redis', 'REDIS_URL', urls.redisUrl, checkRedis);
  check('NATS', 'NATS_URL', urls.natsUrl, checkNats);
  await Promise.all(checks);
  return { unset, unreachable };
}

export class BackendsUnavailable extends Error {
  constructor(readonly problems: string[]) {
    super(`cannot start: ${problems.join('; ')}`);
    this.name = 'BackendsUnavailable';
  }
}
