import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageSet, createAgora, ensureAdminUser, loadConfig, seedDemoData, type Agora } from '@agora/cli';
import { Metrics, PostgresStorage, createLogger } from '@agora/platform';
import { TEST_NATS_URL, deleteNatsStream, natsAvailable, pgliteBackend, postgresBackend, uniqueNatsNames, type TestBackend } from '@agora/platform/testing';

export const ADMIN = { email: 'admin@test.agora', password: 'admin-password-1' };

/** The payment webhook secret every test system signs with, so a test can sign deliveries itself. */
export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789abcdef';

export interface RunningSystem {
  baseUrl: string;
  agora: Agora;
  /** The JetStream stream of this system's bus when it runs on NATS (deleted by `stop`). */
  natsStream: string | undefined;
  stop(): Promise<void>;
}

export interface SystemOptions {
  env?: Record<string, string>;
  demoProducts?: number;
  /**
   * Run the event bus on the test NATS JetStream server, on a stream and subject prefix of its own
   * (AGORA_NATS_STREAM, AGORA_NATS_SUBJECT_PREFIX), so test files running in parallel never share
   * events or durable consumers. Default: the in-memory bus.
   */
  nats?: boolean;
  /** The built web app (apps/web/dist) to serve at `/`, for browser tests; none by default. */
  webRoot?: string;
}

/**
 * The whole system in one process on a fresh database of the given backend, listening on a real
 * loopback port: API tests speak HTTP to it exactly as a shopper would.
 */
export async function startSystem(backend: TestBackend, options: SystemOptions = {}): Promise<RunningSystem> {
  const external = externalSystem();
  if (external) return attachExternal(external, options);
  const names = options.nats ? uniqueNatsNames('agora_api') : undefined;
  const { storage, release } = await backend.open();
  const dataDir = mkdtempSync(join(tmpdir(), 'agora-api-'));
  const env: Record<string, string> = {
    AGORA_DATA_DIR: dataDir,
    AGORA_JWT_SECRET: 'test-secret-test-secret-test-secret-0123456789',
    AGORA_LOG_LEVEL: 'silent',
    AGORA_ADMIN_EMAIL: ADMIN.email,
    AGORA_ADMIN_PASSWORD: ADMIN.password,
    AGORA_RATE_LIMITS: 'off',
    AGORA_DEMO_PRODUCTS: String(options.demoProducts ?? 0),
    AGORA_PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET,
    ...(names ? { NATS_URL: TEST_NATS_URL, AGORA_NATS_STREAM: names.stream, AGORA_NATS_SUBJECT_PREFIX: names.subjectPrefix } : {}),
    ...options.env,
  };
  let agora: Agora;
  try {
    const config = loadConfig(env);
    agora = await createAgora(config, { storage, env, webRoot: options.webRoot ?? false });
    try {
      await ensureAdminUser(config, agora.storages);
      if (config.demoProducts > 0) await seedDemoData(config, agora.storages, agora.logger);
      await agora.gateway.listen({ port: 0, host: '127.0.0.1' });
    } catch (err) {
      await agora.close();
      throw err;
    }
  } catch (err) {
    await release();
    if (names) await deleteNatsStream(names.stream);
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const address = agora.gateway.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('gateway is not listening');
  return {
    baseUrl: `http://127.0.0.1:${address.port}`,
    agora,
    natsStream: names?.stream,
    async stop() {
      await agora.close();
      await release();
      if (names) await deleteNatsStream(names.stream);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One way to run the whole system in a test: a storage backend and the bus beside it. */
export interface SystemVariant {
  /** For test titles: `pglite`, `postgres+nats`. */
  name: string;
  backend: TestBackend;
  nats: boolean;
  /** False only when a server it needs is down and not required (AGORA_REQUIRE_SERVICES unset). */
  available(): Promise<boolean>;
}

/**
 * The trading-core API suites run on each of these: embedded PGlite with the in-memory bus (what
 * `npm start` is), and real PostgreSQL with NATS JetStream (what the cluster is).
 */
export const systemVariants: readonly SystemVariant[] = externalSystem()
  ? [{ name: 'external', backend: postgresBackend, nats: true, available: async () => true }]
  : [
      { name: 'pglite', backend: pgliteBackend, nats: false, available: () => pgliteBackend.available() },
      { name: 'postgres+nats', backend: postgresBackend, nats: true, available: async () => (await postgresBackend.available()) && (await natsAvailable()) },
    ];

// ------------------------------------------------------------------------------------------------
// External mode: the same suites against a system that already runs elsewhere.

/**
 * With `AGORA_API_URL` set, `startSystem` starts nothing: the API suites speak to the system
 * already running at that URL (e.g. nginx in front of a cluster, see test/cluster/nginx.test.ts)
 * and `systemVariants` is that one system, named `external`.
 * - `AGORA_API_URL`: its base URL;
 * - `AGORA_API_DATABASE_URL`: the PostgreSQL database holding every service's schema, which the
 *   invariant checks read (`agora.storages.forService` answers it for every service);
 * - `AGORA_API_ENV`: JSON of the settings it runs with; a suite asking for other settings
 *   (`startSystem(..., { env })`) fails with a message naming them instead of testing the wrong thing.
 * The system must run with {@link ADMIN} as its admin, {@link WEBHOOK_SECRET} as the payment
 * webhook secret, rate limits off and no demo data, as `startSystem` would set it up.
 */
export interface ExternalSystem {
  baseUrl: string;
  databaseUrl: string;
  env: Readonly<Record<string, string>>;
}

export function externalSystem(env: NodeJS.ProcessEnv = process.env): ExternalSystem | undefined {
  const baseUrl = env.AGORA_API_URL;
  if (!baseUrl) return undefined;
  const databaseUrl = env.AGORA_API_DATABASE_URL;
  if (!databaseUrl) throw new Error('AGORA_API_URL is set but AGORA_API_DATABASE_URL is not: the suites check invariants in its database');
  const settings: unknown = JSON.parse(env.AGORA_API_ENV ?? '{}');
  if (typeof settings !== 'object' || settings === null || Object.values(settings).some((v) => typeof v !== 'string')) {
    throw new Error('AGORA_API_ENV must be a JSON object of strings');
  }
  return { baseUrl: baseUrl.replace(/\/+$/, ''), databaseUrl, env: settings as Record<string, string> };
}

async function attachExternal(external: ExternalSystem, options: SystemOptions): Promise<RunningSystem> {
  const mismatched = Object.entries(options.env ?? {}).filter(([name, value]) => external.env[name] !== value);
  if (mismatched.length > 0) {
    const wanted = mismatched.map(([name, value]) => `${name}=${value} (it runs with ${external.env[name] ?? 'it unset'})`).join(', ');
    throw new Error(`this suite needs ${wanted}, which the external system at ${external.baseUrl} does not run with`);
  }
  if ((options.demoProducts ?? 0) > 0 || options.webRoot !== undefined) throw new Error(`demo products and the web app cannot be set up on the external system at ${external.baseUrl}`);
  const storage = new PostgresStorage({ url: external.databaseUrl, poolMax: 4 });
  const config = loadConfig({ DATABASE_URL: external.databaseUrl, AGORA_JWT_SECRET: 'external-system-unused-secret-0123456789abcdef', AGORA_DATA_DIR: tmpdir() });
  const storages = new StorageSet(config, storage);
  const elsewhere = (what: string): never => {
    throw new Error(`${what} runs in another process: the system under test is external (${external.baseUrl})`);
  };
  const agora: Agora = {
    config,
    storages,
    get gateway(): never {
      return elsewhere('the gateway');
    },
    services: [],
    logger: createLogger('external-system', 'silent'),
    metrics: new Metrics(),
    get tokens(): never {
      return elsewhere('token signing');
    },
    close: () => storage.close(),
  };
  return { baseUrl: external.baseUrl, agora, natsStream: undefined, stop: () => storage.close() };
}
