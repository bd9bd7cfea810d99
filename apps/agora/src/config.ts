import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, EnvReader, LIMITS } from '@agora/kernel';
import { MIN_SECRET_BYTES, parseShardUrls } from '@agora/platform';

/** Process-wide configuration, from the environment only, validated before anything starts. */
export interface AgoraConfig {
  port: number;
  host: string;
  dataDir: string;
  /** PostgreSQL for every service unless a `<SERVICE>_DATABASE_URL` overrides it; unset = embedded PGlite. */
  databaseUrl: string | undefined;
  serviceDatabaseUrls: Record<string, string>;
  /** NATS JetStream for the event bus; unset = in-memory bus (one process only). */
  natsUrl: string | undefined;
  /** The JetStream stream and subject prefix of the event bus (`AGORA_NATS_STREAM`, `AGORA_NATS_SUBJECT_PREFIX`); unset = the bus's defaults. */
  natsStream: string | undefined;
  natsSubjectPrefix: string | undefined;
  /** Redis for discovery (and shared rate limits) in the cluster. */
  redisUrl: string | undefined;
  dbPoolMax: number;
  /**
   * The shard databases of the sharded services (`ORDER_SHARDS`, `CART_SHARDS`: comma-separated
   * PostgreSQL URLs), seeding each one's first stored shard map; unset = the service's database
   * is its one shard (docs/sharding.md).
   */
  shards: { order: string[] | undefined; cart: string[] | undefined };
  /**
   * Raw statements run as named prepared statements (`AGORA_DB_NAMED_STATEMENTS`, default on):
   * off behind a connection pooler that cannot keep them (PgBouncer in transaction mode before 1.21).
   */
  dbNamedStatements: boolean;
  jwtSecret: string;
  admin: { email: string; password: string } | undefined;
  logLevel: string;
  demoProducts: number;
  seedDemoData: boolean;
}

export const SERVICES_WITH_STORAGE = ['identity', 'catalog', 'inventory', 'cart', 'payment', 'order'] as const;

/**
 * Connections per PostgreSQL pool unless AGORA_DB_POOL_MAX says otherwise. Sized for `agora start`:
 * one process, one pool per distinct URL, so with one DATABASE_URL all six services share it, and
 * with them every background loop that holds a connection for a transaction (three outbox relays,
 * saga recovery, the reservation sweeper). At 10, a handful of concurrent checkouts (each running
 * statements in four services) queue for a connection while PostgreSQL sits idle; 20 leaves room
 * and keeps one process well under PostgreSQL's default max_connections (100), next to psql,
 * migrations and a second instance. `agora cluster` runs one service per process (6 x replicas
 * pools): there, set AGORA_DB_POOL_MAX so that processes x pool stays under max_connections.
 */
export const DB_POOL_MAX_DEFAULT = 20;
/** The most AGORA_DB_POOL_MAX may ask for: past it, one process could take a server's connections. */
export const DB_POOL_MAX_LIMIT = 200;

/** A secret the operator did not set is generated once and kept in the data dir (0600). */
export function persistedSecret(dataDir: string, file: string): string {
  const path = join(dataDir, file);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return secret;
}

/** NATS stream names may not hold `.`, `*`, `>` or whitespace; subject tokens are dot-separated. */
const NATS_STREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const NATS_SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,7}$/;

function natsName(env: EnvReader, name: string, pattern: RegExp, what: string): string | undefined {
  const value = env.string(name);
  if (value !== undefined && !pattern.test(value)) throw new ConfigError(name, `is not a valid NATS ${what}`);
  return value;
}

export function loadConfig(envVars: Record<string, string | undefined> = process.env): AgoraConfig {
  const env = new EnvReader(envVars);
  const dataDir = resolve(env.string('AGORA_DATA_DIR', './data'));
  const databaseUrl = env.url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const serviceDatabaseUrls: Record<string, string> = {};
  for (const service of SERVICES_WITH_STORAGE) {
    const url = env.url(`${service.toUpperCase()}_DATABASE_URL`, ['postgres:', 'postgresql:']);
    if (url) serviceDatabaseUrls[service] = url;
  }
  const shards = { order: parseShardUrls(env, 'order'), cart: parseShardUrls(env, 'cart') };
  const jwtSecret = env.string('AGORA_JWT_SECRET') ?? persistedSecret(dataDir, 'jwt-secret');
  if (Buffer.byteLength(jwtSecret) < MIN_SECRET_BYTES) throw new ConfigError('AGORA_JWT_SECRET', `must be at least ${MIN_SECRET_BYTES} bytes`);
  const adminEmail = env.string('AGORA_ADMIN_EMAIL');
  const adminPassword = env.string('AGORA_ADMIN_PASSWORD');
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    throw new ConfigError(adminEmail === undefined ? 'AGORA_ADMIN_EMAIL' : 'AGORA_ADMIN_PASSWORD', 'AGORA_ADMIN_EMAIL and AGORA_ADMIN_PASSWORD go together');
  }
  if (adminPassword !== undefined && (adminPassword.length < LIMITS.passwordMin || adminPassword.length > LIMITS.passwordMax)) {
    throw new ConfigError('AGORA_ADMIN_PASSWORD', `must be ${LIMITS.passwordMin}..${LIMITS.passwordMax} characters`);
  }
  if (adminEmail !== undefined && !/^[^@\s]+@[^@\s]+$/.test(adminEmail)) throw new ConfigError('AGORA_ADMIN_EMAIL', 'is not an e-mail address');
  return {
    port: env.int('PORT', 8080, { min: 0, max: 65535 }),
    host: env.string('HOST', '0.0.0.0'),
    dataDir,
    databaseUrl,
    serviceDatabaseUrls,
    natsUrl: env.url('NATS_URL', ['nats:', 'tls:']),
    natsStream: natsName(env, 'AGORA_NATS_STREAM', NATS_STREAM_NAME, 'stream name (letters, digits, _ and -)'),
    natsSubjectPrefix: natsName(env, 'AGORA_NATS_SUBJECT_PREFIX', NATS_SUBJECT_PREFIX, 'subject prefix (dot-separated tokens of letters, digits, _ and -)'),
    redisUrl: env.url('REDIS_URL', ['redis:', 'rediss:']),
    dbPoolMax: env.int('AGORA_DB_POOL_MAX', DB_POOL_MAX_DEFAULT, { min: 1, max: DB_POOL_MAX_LIMIT }),
    shards,
    dbNamedStatements: env.bool('AGORA_DB_NAMED_STATEMENTS', true),
    jwtSecret,
    admin: adminEmail && adminPassword ? { email: adminEmail, password: adminPassword } : undefined,
    logLevel: env.oneOf('AGORA_LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    demoProducts: env.int('AGORA_DEMO_PRODUCTS', 1200, { min: 0, max: 100_000 }),
    seedDemoData: env.bool('AGORA_SEED', true),
  };
}
