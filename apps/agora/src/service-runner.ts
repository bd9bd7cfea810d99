import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { ConfigError, EnvReader, LIMITS, newId, systemClock } from '@agora/kernel';
import {
  AssertingTransport,
  CallerAssertionSigner,
  CallerAssertionVerifier,
  Metrics,
  PostgresStorage,
  TokenService,
  connectNatsEventBus,
  connectRedisRegistry,
  createLogger,
  guardServiceRoutes,
  parseDiscoveryKeyPrefix,
  registerOperationalRoutes,
  reportCluster,
  reportPool,
  type HttpApp,
  type ReadinessCheck,
  type Registration,
  type RunningService,
  type StoredShardRow,
  storedShardRows,
  startTracing,
  traceBus,
  traceRedis,
  traceTransport,
} from '@agora/platform';
import type { ClusterView } from '@agora/contracts';
import { createGateway, loadGatewayConfig } from '@agora/gateway';
import type { AgoraConfig } from './config.js';
import { SERVICE_MODULES, WEB_APP_DIST, builtWebApp } from './compose.js';
import { BACKENDS_WAIT, requireBackends } from './backends.js';
import { CALLABLE_SERVICES, ClusterClient } from './runtime.js';
import { SHARDED_SERVICE_NAMES, shardOverview } from './shards.js';

export const RUNNABLE = ['gateway', ...SERVICE_MODULES.map((m) => m.name)] as const;

const VERSION = process.env.npm_package_version ?? '0.1.0';

/** Addresses meaning "every interface": a service never listens on one. */
const WILDCARD_HOSTS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '']);

/**
 * The one address a service both listens on and registers in discovery (docs/security.md):
 * AGORA_ADVERTISE_HOST when set (callers on other machines need a routable address), else HOST
 * unless it is a wildcard, else loopback. Its routes answer only callers holding an assertion.
 */
export function serviceAddress(host: string, env: EnvReader): string {
  const advertised = env.string('AGORA_ADVERTISE_HOST');
  if (advertised === undefined) return WILDCARD_HOSTS.has(host) ? '127.0.0.1' : host;
  if (WILDCARD_HOSTS.has(advertised)) throw new ConfigError('AGORA_ADVERTISE_HOST', 'must be an address callers can reach, not a wildcard');
  return advertised;
}

/** The cluster secret of `agora service`: without it no call could be signed or verified. */
export function requireInternalSecret(config: AgoraConfig): string {
  if (config.internalSecret === undefined) {
    throw new ConfigError('AGORA_INTERNAL_SECRET', 'is required by agora service: every process of a cluster signs and verifies its calls with this shared secret (agora cluster generates one for its members; see docs/security.md)');
  }
  return config.internalSecret;
}

/**
 * `agora service NAME`: one service (or a gateway) as its own process on real PostgreSQL, Redis
 * and NATS. It registers itself in discovery and heartbeats; it reaches other services through
 * watchers, balancers and the resilient HTTP transport. SIGTERM drains it: it marks itself
 * draining (callers stop picking it), waits for that to propagate, deregisters, lets in-flight
 * requests finish, stops background work, then exits.
 */
export async function runService(name: string, config: AgoraConfig, envVars: Record<string, string | undefined> = process.env): Promise<void> {
  if (!(RUNNABLE as readonly string[]).includes(name)) throw new Error(`unknown service "${name}"; one of: ${RUNNABLE.join(', ')}`);
  const internalSecret = requireInternalSecret(config);
  const env = new EnvReader(envVars);
  const isGateway = name === 'gateway';
  // A gateway is the public edge (HOST); a service listens only where it is advertised.
  const advertisedHost = isGateway ? env.string('AGORA_ADVERTISE_HOST', WILDCARD_HOSTS.has(config.host) ? '127.0.0.1' : config.host) : serviceAddress(config.host, env);
  await requireBackends(
    { databaseUrl: config.databaseUrl ?? config.serviceDatabaseUrls[name], redisUrl: config.redisUrl, natsUrl: config.natsUrl },
    {
      waitMs: env.int(BACKENDS_WAIT.variable, BACKENDS_WAIT.defaultMs, { min: 0, max: BACKENDS_WAIT.maxMs }),
      onWait: (problems) => process.stderr.write(`agora: waiting for ${problems.join('; ')}\n`),
    },
  );
  const instanceId = env.string('AGORA_INSTANCE_ID') ?? `${name}-${newId()}`;
  const logger = createLogger(name, config.logLevel).child({ instance: instanceId });
  // Before any app, pool or client is built: each instruments itself only when tracing is on.
  const tracing = startTracing({ service: name, instanceId, version: VERSION, env: envVars });
  const metrics = new Metrics();
  const tokens = new TokenService(config.jwtSecret);
  const registry = await connectRedisRegistry({ url: config.redisUrl ?? '', logger, name: instanceId, keyPrefix: parseDiscoveryKeyPrefix(env) });
  const client = await ClusterClient.connect(registry, envVars, metrics, logger);
  // Heartbeat ages and breaker states as this process sees them, read at each scrape.
  reportCluster(metrics, {
    instances: () => CALLABLE_SERVICES.flatMap((service) => (client.watcher(service)?.states() ?? []).map(({ instance, state, lastSeenAt }) => ({ service, instanceId: instance.id, state, lastSeenAt }))),
    breakers: () => client.transport.breakerStates(),
  });
  // Every call this process makes carries an assertion signed as `name`.
  const transport = traceTransport(new AssertingTransport(client.transport, new CallerAssertionSigner(internalSecret), name));
  const natsBus = await connectNatsEventBus({
    url: config.natsUrl ?? '',
    logger,
    metrics,
    name: instanceId,
    ...(config.natsStream === undefined ? {} : { stream: config.natsStream }),
    replicas: config.natsStreamReplicas,
    ...(config.natsSubjectPrefix === undefined ? {} : { subjectPrefix: config.natsSubjectPrefix }),
  });
  const bus = traceBus(natsBus, 'nats');
  let draining = false;
  // Gateways share their rate-limit counters in Redis: the limit holds per client across gateways.
  let sharedRedis: Redis | undefined;
  const rateLimitRedis = (): Redis => {
    sharedRedis ??= traceRedis(new Redis(config.redisUrl ?? '', { connectionName: `${instanceId}-rate-limit`, maxRetriesPerRequest: 1, enableOfflineQueue: false }));
    sharedRedis.on('error', (err: Error) => logger.warn({ err: err.message }, 'rate-limit Redis connection error'));
    return sharedRedis;
  };

  let app: HttpApp;
  let service: RunningService | undefined;
  let storage: PostgresStorage | undefined;
  // The gateway reads the shard maps for the admin cluster view: one small pool per main database, opened on first use.
  const mapStorages = new Map<string, PostgresStorage>();
  const mapStorage = async (service: string): Promise<PostgresStorage> => {
    const url = config.serviceDatabaseUrls[service] ?? config.databaseUrl ?? '';
    let opened = mapStorages.get(url);
    if (!opened) mapStorages.set(url, (opened = new PostgresStorage({ url, poolMax: 1, namedStatements: config.dbNamedStatements })));
    return opened;
  };
  const readiness: ReadinessCheck[] = [
    { name: 'redis', check: async () => void (await registry.list(name)) },
    { name: 'nats', check: () => bus.ping() },
  ];

  if (name === 'gateway') {
    app = await createGateway({
      transport,
      tokens,
      logger,
      metrics,
      config: loadGatewayConfig(env),
      readiness: () => readiness,
      isDraining: () => draining,
      cluster: () => clusterView(client, () => storedShardRows(SHARDED_SERVICE_NAMES, mapStorage)),
      shards: () => shardOverview(mapStorage, config.dbNamedStatements),
      rateLimitStore: { redis: rateLimitRedis() },
      // The storefront and admin, served by every gateway (built by `npm run cluster`'s precluster).
      ...(builtWebApp() ? { web: { root: WEB_APP_DIST } } : {}),
    });
  } else {
    const module = SERVICE_MODULES.find((m) => m.name === name);
    if (!module) throw new Error(`unknown service ${name}`);
    const url = config.serviceDatabaseUrls[name] ?? config.databaseUrl ?? '';
    storage = new PostgresStorage({ url, poolMax: config.dbPoolMax, namedStatements: config.dbNamedStatements });
    if (module.migrationsFolder) await storage.migrate(module.name, module.migrationsFolder);
    const opened = storage;
    reportPool(metrics, name, () => opened.poolStats());
    // No `ports`: in the cluster every collaborator is reached over HTTP (httpPorts over the transport).
    service = await module.create({ storage: opened, logger, metrics, clock: systemClock, env, transport, tokens, bus });
    readiness.push(...service.readiness);
    app = service.app;
    guardServiceRoutes(app, new CallerAssertionVerifier(internalSecret, name));
    registerOperationalRoutes(app, () => readiness, metrics, () => draining);
  }

  const port = name === 'gateway' ? config.port : env.int('AGORA_SERVICE_PORT', 0, { min: 0, max: 65535 });
  await app.listen({ port, host: isGateway ? config.host : advertisedHost });
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  let registration: Registration | undefined;
  if (name !== 'gateway') {
    registration = await registry.register(
      {
        id: instanceId,
        service: name,
        url: `http://${advertisedHost}:${boundPort}`,
        weight: env.int('AGORA_INSTANCE_WEIGHT', 10, { min: 1, max: 100 }),
        zone: env.string('AGORA_ZONE', hostname()),
        version: VERSION,
        startedAt: new Date().toISOString(),
      },
      { ttlMs: client.discovery.ttlMs, heartbeatIntervalMs: client.discovery.heartbeatIntervalMs },
    );
  }
  await service?.start();
  logger.info({ port: boundPort }, `${name} is serving`);
  process.stdout.write(`${name} ${instanceId} listening on http://${advertisedHost}:${boundPort}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    const force = setTimeout(() => {
      logger.error('drain took too long; exiting');
      process.exit(1);
    }, LIMITS.shutdownGraceMs);
    force.unref();
    try {
      draining = true;
      if (registration) {
        await registration.setDraining(true);
        // Give every watcher a heartbeat or two to see "draining" and stop picking this instance.
        await sleep(client.discovery.heartbeatIntervalMs * 2);
        await registration.deregister();
      }
      await app.close();
      await service?.stop();
      await client.close();
      await bus.close();
      await registry.close();
      sharedRedis?.disconnect();
      await storage?.close();
      await Promise.all([...mapStorages.values()].map((s) => s.close()));
      await tracing.shutdown();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  if (env.bool('AGORA_EXIT_WITH_PARENT', false)) {
    // Started by a supervisor (agora cluster, a benchmark, a test): when it dies without stopping
    // us — SIGKILL, a crash — we are re-parented; drain and exit rather than serve on as an orphan.
    const parent = process.ppid;
    const watch = setInterval(() => {
      if (process.ppid === parent) return;
      clearInterval(watch);
      void stop('parent exited');
    }, PARENT_CHECK_MS);
    watch.unref();
  }
}

/** How often a supervised process checks that its supervisor is still there. */
const PARENT_CHECK_MS = 1_000;

async function clusterView(client: ClusterClient, shards: () => Promise<StoredShardRow[]>): Promise<ClusterView> {
  const now = Date.now();
  return {
    mode: 'cluster',
    generatedAt: new Date(now).toISOString(),
    services: CALLABLE_SERVICES.map((service) => ({
      name: service,
      strategy: client.balancing.strategyFor(service),
      instances: (client.watcher(service)?.states() ?? []).map(({ instance, state, lastSeenAt }) => ({
        id: instance.id,
        url: instance.url,
        zone: instance.zone,
        version: instance.version,
        weight: instance.weight,
        state,
        lastHeartbeatAt: lastSeenAt.toISOString(),
        heartbeatAgeMs: Math.max(0, now - lastSeenAt.getTime()),
      })),
    })),
    breakers: client.transport.breakerStates().map((b) => ({ service: b.service, instanceId: b.instanceId, url: b.url, state: b.state, consecutiveFailures: b.consecutiveFailures })),
    shards: await shards(),
  };
}
