import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster, baseEnvironment, type ClusterAdmin } from '@agora/bench';
import { agoraLauncher } from '@agora/cli/launch';
import { PostgresStorage, cacheRedisConnection } from '@agora/platform';
import {
  TEST_NATS_URL,
  TEST_REDIS_URL,
  createTestDatabase,
  deleteNatsStream,
  deleteRedisKeys,
  freePort,
  natsAvailable,
  postgresBackend,
  redisAvailable,
  servicesRequired,
  uniqueNatsNames,
  uniqueRedisPrefix,
} from '@agora/platform/testing';

/**
 * A real cluster for a test file: separate `agora service` processes on the test PostgreSQL (a
 * fresh database), Redis (a discovery prefix of its own) and NATS (a stream of its own), so files
 * running in parallel never see each other's instances, rows or events.
 */

/** Real servers only: with AGORA_REQUIRE_SERVICES=1 a missing one fails the run instead of skipping. */
export async function clusterServersAvailable(): Promise<boolean> {
  const postgres = await postgresBackend.available();
  const nats = await natsAvailable();
  const redis = await redisAvailable();
  return postgres && nats && redis;
}

/**
 * The PostgreSQL connections a test cluster's pools take in all unless its file says otherwise:
 * the test server (100 connections) is shared by the files running beside it.
 */
export const TEST_CLUSTER_CONNECTIONS = 40;

export interface TestCluster {
  cluster: ProcessCluster;
  /** The first gateway's base URL. */
  gateway: string;
  /** The run's database: every service's schema is in it. */
  databaseUrl: string;
  /** A connection to it, for invariant checks. */
  storage: PostgresStorage;
  /** The settings every member runs with (for AGORA_API_ENV). */
  env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export interface TestClusterOptions {
  gateways: number;
  services: Readonly<Record<string, number>>;
  admin: ClusterAdmin;
  /** Settings on top of the defaults below (AGORA_SAGA_LEASE_MS, AGORA_GATEWAY_TIMEOUT_MS, ...). */
  env?: Readonly<Record<string, string>>;
  /** The cluster's share of the server's connections, divided among its service processes (default TEST_CLUSTER_CONNECTIONS). */
  connections?: number;
  /** The database: a fresh one on the test server by default; a test putting PgBouncer in front passes its URL for it. */
  databaseUrl?: (created: string) => string;
}

export async function startTestCluster(options: TestClusterOptions): Promise<TestCluster> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanUp = async () => {
    const errors: unknown[] = [];
    for (const step of cleanups.splice(0).reverse()) await step().catch((err: unknown) => errors.push(err));
    if (errors.length > 0) throw new AggregateError(errors, 'cleaning up the test cluster failed');
  };
  try {
    const database = await createTestDatabase('agora_cluster');
    cleanups.push(() => database.drop());
    const discoveryPrefix = uniqueRedisPrefix('agora_test');
    cleanups.push(() => deleteRedisKeys(discoveryPrefix));
    const nats = uniqueNatsNames('agora_cluster');
    cleanups.push(() => deleteNatsStream(nats.stream));
    const dataDir = mkdtempSync(join(tmpdir(), 'agora-cluster-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const settings: Record<string, string> = {
      AGORA_JWT_SECRET: randomBytes(48).toString('base64url'),
      AGORA_PAYMENT_WEBHOOK_SECRET: randomBytes(32).toString('base64url'),
      AGORA_RATE_LIMITS: 'off',
      AGORA_LOG_LEVEL: 'warn',
      AGORA_SEED: 'off',
      AGORA_DEMO_PRODUCTS: '0',
      ...options.env,
    };
    const launcher = agoraLauncher();
    const cluster = await ProcessCluster.start({
      launcher,
      agoraMain: launcher.main,
      env: {
        ...baseEnvironment(process.env),
        DATABASE_URL: options.databaseUrl?.(database.url) ?? database.url,
        REDIS_URL: TEST_REDIS_URL,
        NATS_URL: TEST_NATS_URL,
        AGORA_DATA_DIR: dataDir,
        AGORA_DISCOVERY_PREFIX: discoveryPrefix,
        AGORA_NATS_STREAM: nats.stream,
        AGORA_NATS_SUBJECT_PREFIX: nats.subjectPrefix,
        ...settings,
      },
      gateways: options.gateways,
      services: options.services,
      admin: options.admin,
      connectionShare: options.connections ?? TEST_CLUSTER_CONNECTIONS,
    });
    cleanups.push(() => cluster.stop());
    const storage = new PostgresStorage({ url: database.url, poolMax: 4 });
    cleanups.push(() => storage.close());
    return { cluster, gateway: cluster.gatewayUrls[0] ?? '', databaseUrl: database.url, storage, env: settings, stop: cleanUp };
  } catch (err) {
    await cleanUp().catch((cleanupErr: unknown) => {
      throw new AggregateError([err, cleanupErr], 'starting the test cluster failed, and so did cleaning up after it');
    });
    throw err;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The redis-server binary a test starts its own Redis with. */
const REDIS_SERVER = process.env.AGORA_TEST_REDIS_SERVER ?? 'redis-server';
/** How long a started redis-server has to answer PING (a busy 2-core machine starts it slowly). */
const REDIS_START_TIMEOUT_MS = 10_000;
const REDIS_PROBE_PAUSE_MS = 100;

/** Whether redis-server is installed; with AGORA_REQUIRE_SERVICES=1 a missing one fails the run instead of skipping. */
export function redisServerInstalled(): boolean {
  const found = spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' }).status === 0;
  if (!found && servicesRequired()) throw new Error(`AGORA_REQUIRE_SERVICES=1 but ${REDIS_SERVER} is not installed (apt-get install redis-server)`);
  return found;
}

/** PONG from a new connection (one reused after a failed connect refuses to connect again), or 'down'. */
async function pingRedis(url: string): Promise<string> {
  const probe = cacheRedisConnection(url, 'own-redis-probe');
  try {
    await probe.connect();
    return await probe.ping();
  } catch {
    return 'down';
  } finally {
    probe.disconnect();
  }
}

/**
 * A redis-server of a test's own on a free port, without persistence, so that the test may kill it
 * (SIGKILL: everything in it is lost) and start it again empty on the same port — what a cluster
 * sees when its Redis restarts. The shared Redis on 6379 is never touched.
 */
export class OwnRedis {
  private child: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort());
    await redis.restart();
    return redis;
  }

  /** Starts the server (again) and resolves once it answers; one that never does is killed. */
  async restart(): Promise<void> {
    if (this.running()) throw new Error(`the test's redis-server on ${this.port} is still running`);
    this.child = spawn(REDIS_SERVER, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const deadline = Date.now() + REDIS_START_TIMEOUT_MS;
    while ((await pingRedis(this.url)) !== 'PONG') {
      if (Date.now() > deadline || !this.running()) {
        await this.kill();
        throw new Error(`the test's redis-server on ${this.port} did not answer within ${REDIS_START_TIMEOUT_MS} ms`);
      }
      await sleep(REDIS_PROBE_PAUSE_MS);
    }
  }

  /** SIGKILL, and resolves once it exited (at once if it is not running). */
  async kill(): Promise<void> {
    const child = this.child;
    // A process a signal already ended has no exit code, only a signal code: no 'exit' is coming.
    if (!child || !this.running()) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  private running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }
}
