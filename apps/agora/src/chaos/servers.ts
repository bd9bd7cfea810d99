import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Redis } from 'ioredis';
import { connect } from '@nats-io/transport-node';
import { PGBOUNCER, freePort, startPgbouncer, type RunningPgbouncer } from '@agora/platform/testing';

/**
 * The servers `agora chaos` runs Agora on and breaks on purpose: a PostgreSQL of its own
 * (`initdb` + `pg_ctl` in a temporary data directory), a `redis-server` and a `nats-server -js`,
 * each on a free loopback port with its own directory, and optionally a PgBouncer in front of
 * PostgreSQL. Never the machine's shared servers: restarting those would break everyone else.
 * Every restart comes back on the same port, so the cluster's URLs stay valid.
 */

export const CHAOS_SERVER_LIMITS = {
  /** A server must answer within this long after (re)starting. */
  readyTimeoutMs: 30_000,
  pollMs: 100,
  /** SIGTERM first; SIGKILL after this long. */
  stopGraceMs: 10_000,
  /** Room for ~15 processes' pools, the checker and the load's own connections. */
  postgresMaxConnections: 300,
  outputTailChars: 8_000,
} as const;

export const POSTGRES_BIN = process.env.AGORA_POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin';
export const REDIS_SERVER = 'redis-server';
export const NATS_SERVER = 'nats-server';

/** How PostgreSQL goes down when restarted: `fast` (clean) or `immediate` (a crash: recovery replays the WAL). */
export type PostgresStopMode = 'fast' | 'immediate';

export interface ChaosServers {
  /** The database every service uses: through PgBouncer when there is one. */
  readonly databaseUrl: string;
  /** Straight to PostgreSQL (the checker and the setup). */
  readonly directDatabaseUrl: string;
  readonly redisUrl: string;
  readonly natsUrl: string;
  readonly pgbouncer: boolean;
  /** Whether named prepared statements survive the way to PostgreSQL (not through a PgBouncer older than 1.21). */
  readonly namedStatements: boolean;
  restartPostgres(mode: PostgresStopMode, downMs: number): Promise<void>;
  /** Redis without persistence: it comes back empty (registrations, counters and locks are rebuilt). */
  restartRedis(signal: 'SIGTERM' | 'SIGKILL', downMs: number): Promise<void>;
  /** JetStream keeps its streams in its store directory across the restart. */
  restartNats(signal: 'SIGTERM' | 'SIGKILL', downMs: number): Promise<void>;
  restartPgbouncer(downMs: number): Promise<void>;
  /** Stops everything started and removes the directories; safe to call twice. */
  stop(): Promise<void>;
}

/** The binaries a run needs that are not here (PgBouncer only with --pgbouncer); empty when all are. */
export function missingChaosBinaries(options: { pgbouncer: boolean }): string[] {
  const onPath = (name: string) => (process.env.PATH ?? '').split(':').some((dir) => dir.length > 0 && existsSync(join(dir, name)));
  const missing: string[] = [];
  for (const tool of ['initdb', 'pg_ctl']) if (!existsSync(join(POSTGRES_BIN, tool))) missing.push(join(POSTGRES_BIN, tool));
  for (const name of [REDIS_SERVER, NATS_SERVER]) if (!onPath(name)) missing.push(name);
  if (options.pgbouncer && !existsSync(PGBOUNCER)) missing.push(PGBOUNCER);
  return missing;
}

async function waitFor(what: string, probe: () => Promise<unknown>, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + CHAOS_SERVER_LIMITS.readyTimeoutMs;
  for (;;) {
    try {
      await probe();
      return;
    } catch (err) {
      if (!alive()) throw new Error(`${what} exited while starting: ${String(err)}`);
      if (Date.now() > deadline) throw new Error(`${what} did not answer within ${CHAOS_SERVER_LIMITS.readyTimeoutMs / 1000} s: ${String(err)}`);
      await sleep(CHAOS_SERVER_LIMITS.pollMs);
    }
  }
}

/** A server binary as a child process, with the tail of its output for error messages. */
class ServerChild {
  private tail = '';
  readonly exited: Promise<void>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => (this.tail = (this.tail + chunk.toString()).slice(-CHAOS_SERVER_LIMITS.outputTailChars));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  output(): string {
    return this.tail;
  }
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.alive) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), CHAOS_SERVER_LIMITS.stopGraceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** As root, PostgreSQL's tools must run as the `postgres` OS user, which must own the data directory. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return {
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  };
}

class Postgres {
  private constructor(
    private readonly dir: string,
    readonly port: number,
    private readonly user: { uid: number; gid: number } | undefined,
  ) {}

  static async start(root: string): Promise<Postgres> {
    const user = postgresUser();
    const dir = join(root, 'postgres');
    mkdirSync(dir, { mode: 0o700 });
    if (user) chownSync(dir, user.uid, user.gid);
    const port = await freePort();
    const postgres = new Postgres(dir, port, user);
    postgres.run('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    await postgres.start();
    return postgres;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private run(tool: string, args: readonly string[]): void {
    const command = join(POSTGRES_BIN, tool);
    const [file, argv] = this.user
      ? ['setpriv', ['--reuid', String(this.user.uid), '--regid', String(this.user.gid), '--clear-groups', command, ...args]]
      : [command, [...args]];
    try {
      execFileSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', cwd: this.dir });
    } catch (err) {
      const log = existsSync(join(this.dir, 'postgres.log')) ? readFileSync(join(this.dir, 'postgres.log'), 'utf8').slice(-CHAOS_SERVER_LIMITS.outputTailChars) : '';
      const e = err as { stderr?: string; message: string };
      throw new Error(`${tool} failed: ${e.stderr ?? e.message}\n${log}`, { cause: err });
    }
  }

  async start(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${this.dir}`,
      `-c max_connections=${CHAOS_SERVER_LIMITS.postgresMaxConnections}`,
      // A commit is acknowledged only once its WAL is in the kernel (synchronous_commit stays on, as
      // in production): the faults here kill PostgreSQL's processes (stop -m immediate), which
      // loses whatever the server had not yet handed to the kernel. With synchronous_commit=off
      // a killed server forgot commits it had acknowledged — a captured payment, a committed
      // reservation — and the run reported violations no production server can produce. The
      // machine itself never crashes here, so the page cache keeps what was written: fsync and
      // full-page writes (protection against a power cut) stay off for speed.
      '-c fsync=off',
      '-c full_page_writes=off',
      '-c shared_buffers=32MB',
    ].join(' ');
    this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-l', join(this.dir, 'postgres.log'), '-o', options, '-w', '-t', String(CHAOS_SERVER_LIMITS.readyTimeoutMs / 1000), 'start']);
    await waitFor('PostgreSQL', async () => {
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 2_000 });
      try {
        await client.connect();
        await client.query('select 1');
      } finally {
        await client.end().catch(() => undefined);
      }
    });
  }

  stop(mode: PostgresStopMode): void {
    if (!existsSync(join(this.dir, 'data', 'postmaster.pid'))) return;
    this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-m', mode, '-w', 'stop']);
  }
}

class RedisServer {
  private child: ServerChild | undefined;
  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async start(root: string): Promise<RedisServer> {
    const dir = join(root, 'redis');
    mkdirSync(dir);
    const redis = new RedisServer(dir, await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'];
    const child = new ServerChild('redis-server', spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    this.child = child;
    await waitFor(
      'redis-server',
      async () => {
        const redis = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        redis.on('error', () => undefined);
        try {
          await redis.connect();
          await redis.ping();
        } finally {
          redis.disconnect();
        }
      },
      () => child.alive,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${child.output()}`);
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.child?.stop(signal);
  }
}

class NatsServer {
  private child: ServerChild | undefined;
  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async start(root: string): Promise<NatsServer> {
    const dir = join(root, 'nats');
    mkdirSync(dir);
    const nats = new NatsServer(dir, await freePort());
    await nats.start();
    return nats;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.dir, '--http_port', '0'];
    const child = new ServerChild('nats-server', spawn(NATS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    this.child = child;
    await waitFor(
      'nats-server',
      async () => {
        const nc = await connect({ servers: this.url, timeout: 2_000, reconnect: false });
        await nc.close();
      },
      () => child.alive,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${child.output()}`);
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.child?.stop(signal);
  }
}

/**
 * Starts the servers (PgBouncer too when asked) in a fresh temporary directory. Whatever was
 * started is stopped again if a later one fails to start.
 */
export async function startChaosServers(options: { pgbouncer: boolean }): Promise<ChaosServers> {
  const missing = missingChaosBinaries(options);
  if (missing.length > 0) throw new Error(`agora chaos needs ${missing.join(', ')} (Debian: postgresql, redis-server, nats-server${options.pgbouncer ? ', pgbouncer' : ''})`);
  const root = mkdtempSync(join(tmpdir(), 'agora-chaos-'));
  const user = postgresUser();
  if (user) chownSync(root, user.uid, user.gid);
  const stops: (() => Promise<void>)[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const errors: unknown[] = [];
    for (const step of stops.splice(0).reverse()) await step().catch((err: unknown) => errors.push(err));
    rmSync(root, { recursive: true, force: true });
    if (errors.length > 0) throw new AggregateError(errors, 'stopping the chaos servers failed');
  };
  try {
    const postgres = await Postgres.start(root);
    stops.push(async () => postgres.stop('immediate'));
    const redis = await RedisServer.start(root);
    stops.push(() => redis.stop('SIGKILL'));
    const nats = await NatsServer.start(root);
    stops.push(() => nats.stop('SIGTERM'));
    let bouncer: RunningPgbouncer | undefined;
    if (options.pgbouncer) {
      bouncer = await startPgbouncer({ host: '127.0.0.1', port: postgres.port });
      stops.push(() => bouncer?.stop() ?? Promise.resolve());
    }
    const bouncerPort = bouncer?.port;
    return {
      databaseUrl: bouncer ? bouncer.urlFor('postgres') : postgres.url,
      directDatabaseUrl: postgres.url,
      redisUrl: redis.url,
      natsUrl: nats.url,
      pgbouncer: bouncer !== undefined,
      namedStatements: bouncer?.namedStatements ?? true,
      async restartPostgres(mode, downMs) {
        postgres.stop(mode);
        await sleep(downMs);
        await postgres.start();
      },
      async restartRedis(signal, downMs) {
        await redis.stop(signal);
        await sleep(downMs);
        await redis.start();
      },
      async restartNats(signal, downMs) {
        await nats.stop(signal);
        await sleep(downMs);
        await nats.start();
      },
      async restartPgbouncer(downMs) {
        if (!bouncer || bouncerPort === undefined) throw new Error('no PgBouncer in this run (--pgbouncer)');
        await bouncer.stop();
        await sleep(downMs);
        bouncer = await startPgbouncer({ host: '127.0.0.1', port: postgres.port }, { port: bouncerPort });
      },
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
