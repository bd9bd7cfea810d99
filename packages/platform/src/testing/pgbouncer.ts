import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { servicesRequired } from './backends.js';
import { freePort } from './ports.js';

/**
 * A PgBouncer of a test's (or `agora chaos`'s) own (Debian's `pgbouncer`): its config, auth file,
 * log and pid in a temp dir, on a free port (or the one given, to come back where it was), in front
 * of a PostgreSQL — never the system's service. Transaction pooling, as docs/operations.md runs it
 * in production.
 */

export const PGBOUNCER = '/usr/sbin/pgbouncer';
/** Named prepared statements survive transaction pooling from this version on (with max_prepared_statements). */
export const PGBOUNCER_PREPARED_STATEMENTS_SINCE = [1, 21] as const;

export const PGBOUNCER_LIMITS = {
  /** Server connections per (database, user): fewer than the app's pool, so clients are multiplexed. */
  defaultPoolSize: 8,
  maxClientConnections: 400,
  maxPreparedStatements: 200,
  readyTimeoutMs: 10_000,
  pollMs: 50,
} as const;

/** Whether the binary is here; with AGORA_REQUIRE_SERVICES=1 its absence fails the run instead of skipping. */
export function pgbouncerAvailable(): boolean {
  if (existsSync(PGBOUNCER)) return true;
  if (servicesRequired()) throw new Error(`AGORA_REQUIRE_SERVICES=1 but ${PGBOUNCER} is missing (apt-get install pgbouncer)`);
  return false;
}

/** The installed version, e.g. [1, 18]. */
export function pgbouncerVersion(): [number, number] {
  const text = execFileSync(PGBOUNCER, ['--version'], { encoding: 'utf8' });
  const match = /PgBouncer (\d+)\.(\d+)/.exec(text);
  if (!match) throw new Error(`cannot read the PgBouncer version from: ${text}`);
  return [Number(match[1]), Number(match[2])];
}

export function keepsNamedStatements(version: readonly [number, number]): boolean {
  const [major, minor] = PGBOUNCER_PREPARED_STATEMENTS_SINCE;
  return version[0] > major || (version[0] === major && version[1] >= minor);
}

export interface RunningPgbouncer {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/<database>` */
  urlFor(database: string): string;
  /** Named statements are safe through it (>= 1.21 with max_prepared_statements set). */
  namedStatements: boolean;
  /** Transactions it has run for `database` (its admin console's SHOW STATS). */
  transactions(database: string): Promise<number>;
  log(): string;
  stop(): Promise<void>;
}

export async function startPgbouncer(server: { host: string; port: number }, options: { port?: number } = {}): Promise<RunningPgbouncer> {
  const dir = mkdtempSync(join(tmpdir(), 'agora-pgbouncer-'));
  const port = options.port ?? (await freePort());
  const namedStatements = keepsNamedStatements(pgbouncerVersion());
  const config = [
    '[databases]',
    `* = host=${server.host} port=${server.port}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    'admin_users = postgres',
    'pool_mode = transaction',
    `default_pool_size = ${PGBOUNCER_LIMITS.defaultPoolSize}`,
    `max_client_conn = ${PGBOUNCER_LIMITS.maxClientConnections}`,
    // node-postgres sends statement_timeout at connect; PgBouncer cannot keep per-client settings.
    'ignore_startup_parameters = extra_float_digits,statement_timeout',
    ...(namedStatements ? [`max_prepared_statements = ${PGBOUNCER_LIMITS.maxPreparedStatements}`] : []),
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    `pidfile = ${join(dir, 'pgbouncer.pid')}`,
  ].join('\n');
  writeFileSync(join(dir, 'pgbouncer.ini'), `${config}\n`);
  writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n');
  // PgBouncer refuses to run as root: as root, it runs as postgres, which must own its files.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    for (const file of ['', 'pgbouncer.ini', 'userlist.txt']) chownSync(join(dir, file), uid, gid);
  }
  const child: ChildProcess = spawn(PGBOUNCER, [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = () => output + (existsSync(join(dir, 'pgbouncer.log')) ? readFileSync(join(dir, 'pgbouncer.log'), 'utf8') : '');
  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'pgbouncer' });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + PGBOUNCER_LIMITS.readyTimeoutMs;
  for (;;) {
    try {
      await admin((client) => client.query('SHOW VERSION'));
      break;
    } catch (err) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`pgbouncer did not start: ${String(err)}\n${log()}`);
      }
      await sleep(PGBOUNCER_LIMITS.pollMs);
    }
  }
  return {
    port,
    namedStatements,
    urlFor: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    transactions: (database) =>
      admin(async (client) => {
        const { rows } = await client.query<{ database: string; total_xact_count: string }>('SHOW STATS');
        return Number(rows.find((row) => row.database === database)?.total_xact_count ?? 0);
      }),
    log,
    stop,
  };
}
