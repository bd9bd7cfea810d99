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

/**
 * The cluster needs real PostgreSQL, Redis and NATS. Checks each one and fails with one message
 * naming every backend that is missing or does not answer, so an operator fixes them all at once.
 */
export async function requireBackends(urls: BackendUrls): Promise<void> {
  const problems: string[] = [];
  const checks: Promise<void>[] = [];
  const check = (name: string, variable: string, url: string | undefined, run: (url: string) => Promise<void>) => {
    if (!url) {
      problems.push(`${name}: ${variable} is not set`);
      return;
    }
    checks.push(
      run(url).catch((err: unknown) => {
        problems.push(`${name} at ${redact(url)} is unreachable (${err instanceof Error ? err.message : String(err)})`);
      }),
    );
  };
  check('PostgreSQL', 'DATABASE_URL', urls.databaseUrl, checkPostgres);
  check('Redis', 'REDIS_URL', urls.redisUrl, checkRedis);
  check('NATS', 'NATS_URL', urls.natsUrl, checkNats);
  await Promise.all(checks);
  if (problems.length > 0) throw new BackendsUnavailable(problems);
}

export class BackendsUnavailable extends Error {
  constructor(readonly problems: string[]) {
    super(`cannot start: ${problems.join('; ')}`);
    this.name = 'BackendsUnavailable';
  }
}
