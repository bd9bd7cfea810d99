import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster, baseEnvironment, type ClusterAdmin } from '@agora/bench';
import { agoraLauncher } from '@agora/cli/launch';
import { PostgresStorage } from '@agora/platform';
import {
  TEST_NATS_URL,
  TEST_REDIS_URL,
  createTestDatabase,
  deleteNatsStream,
  deleteRedisKeys,
  natsAvailable,
  postgresBackend,
  redisAvailable,
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
