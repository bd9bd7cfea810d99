import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EnvReader, systemClock, type Clock } from '@agora/kernel';
import { PORT_NAMES, type ClusterView, type ServicePorts } from '@agora/contracts';
import {
  packageFile,
  AssertingTransport,
  CallerAssertionSigner,
  CallerAssertionVerifier,
  InMemoryEventBus,
  InProcessTransport,
  connectNatsEventBus,
  type EventBus,
  Metrics,
  PgliteStorage,
  PostgresStorage,
  TokenService,
  createLogger,
  guardServiceRoutes,
  reportPool,
  type HttpApp,
  type Logger,
  type ReadinessCheck,
  type RunningService,
  type ServiceModule,
  type Storage,
  storedShardRows,
  startTracing,
  traceBus,
  traceTransport,
  tracingActive,
} from '@agora/platform';
import { identityModule } from '@agora/identity';
import { catalogModule } from '@agora/catalog';
import { inventoryModule } from '@agora/inventory';
import { cartModule } from '@agora/cart';
import { paymentModule } from '@agora/payment';
import { createOrderModule } from '@agora/order';
import { createGateway, loadGatewayConfig } from '@agora/gateway';
import type { AgoraConfig } from './config.js';
import { orderSagaFaults } from './faults.js';
import { SHARDED_SERVICE_NAMES, shardOverview } from './shards.js';

/** The order service gets the TEST-ONLY crash injection (faults.ts), inert unless AGORA_FAULT_KILL_AT is set. */
const orderModule = createOrderModule({ sagaLogObserver: orderSagaFaults });

/** In dependency order: each module gets the in-process ports of those before it (catalog reads inventory's levels). */
export const SERVICE_MODULES: readonly ServiceModule[] = [identityModule, inventoryModule, catalogModule, cartModule, paymentModule, orderModule];

/**
 * Opens storage per service: PostgreSQL when a URL is configured (one pool per distinct URL), else
 * one embedded PGlite shared by every service, each in its own schema (README: Running against real PostgreSQL).
 */
export class StorageSet {
  private readonly byUrl = new Map<string, Storage>();
  private embedded: Promise<Storage> | undefined;

  constructor(
    private readonly config: AgoraConfig,
    private readonly override?: Storage,
  ) {}

  async forService(service: string): Promise<Storage> {
    if (this.override) return this.override;
    const url = this.config.serviceDatabaseUrls[service] ?? this.config.databaseUrl;
    if (url) {
      let storage = this.byUrl.get(url);
      if (!storage) {
        storage = new PostgresStorage({ url, poolMax: this.config.dbPoolMax, namedStatements: this.config.dbNamedStatements });
        this.byUrl.set(url, storage);
      }
      return storage;
    }
    this.embedded ??= PgliteStorage.open(join(this.config.dataDir, 'pglite'));
    return this.embedded;
  }

  async close(): Promise<void> {
    if (this.override) return;
    await Promise.all([...this.byUrl.values()].map((s) => s.close()));
    if (this.embedded) await (await this.embedded).close();
  }
}

export async function migrateAll(storages: StorageSet, modules: readonly ServiceModule[] = SERVICE_MODULES): Promise<void> {
  for (const module of modules) {
    if (!module.migrationsFolder) continue;
    const storage = await storages.forService(module.name);
    await storage.migrate(module.name, module.migrationsFolder);
  }
}

/**
 * Adds the ports a service offers to those of the services before it. A service offers only its
 * own port (its name is the port's): another would shadow the service that owns it.
 */
export function collectPorts(ports: Partial<ServicePorts>, service: RunningService): void {
  for (const name of PORT_NAMES) {
    if (service.ports?.[name] !== undefined && name !== service.name) {
      throw new Error(`service ${service.name} offers the ${name} port; a service offers only its own`);
    }
  }
  Object.assign(ports, service.ports);
}

export interface Agora {
  config: AgoraConfig;
  gateway: HttpApp;
  services: RunningService[];
  storages: StorageSet;
  logger: Logger;
  metrics: Metrics;
  tokens: TokenService;
  close(): Promise<void>;
}

/** Where Vite writes the web app (apps/web/dist); `npm start` builds it first when stale. */
export const WEB_APP_DIST = packageFile(import.meta.url, '../web/dist');

/** The built web app's folder when it has been built, else undefined (the API still runs). */
export function builtWebApp(root: string = WEB_APP_DIST): string | undefined {
  return existsSync(join(root, 'index.html')) ? root : undefined;
}

/** `/api/v1/admin/cluster` for `agora start`: every service in this one process, one shard each. */
function singleProcessView(services: readonly RunningService[]): ClusterView {
  const now = new Date().toISOString();
  return {
    mode: 'single-process',
    generatedAt: now,
    services: services.map((s) => ({
      name: s.name,
      strategy: 'in-process',
      instances: [{ id: `${s.name}@${process.pid}`, url: 'in-process', zone: 'local', version: process.env.npm_package_version ?? '0.1.0', weight: 1, state: 'up', lastHeartbeatAt: now, heartbeatAgeMs: 0 }],
    })),
    breakers: [],
    shards: [
      { service: 'order', id: 's0', version: 1 },
      { service: 'cart', id: 's0', version: 1 },
    ],
  };
}

export interface AgoraOptions {
  /**
   * The built web app to serve at `/` (default: apps/web/dist when it exists); `false` serves
   * none (API tests, which check unknown paths answer 404 problems).
   */
  webRoot?: string | false;
  /** Every service on this one storage (tests run the whole system on one test database). */
  storage?: Storage;
  env?: Record<string, string | undefined>;
  clock?: Clock;
  logger?: Logger;
}

/** Everything in one process: every service in process, the gateway in front over a transport. */
export async function createAgora(config: AgoraConfig, options: AgoraOptions = {}): Promise<Agora> {
  const logger = options.logger ?? createLogger('agora', config.logLevel);
  // One process, one trace resource (service.name `agora`; spans name their service in agora.service).
  // Started before any app or pool exists; a process that started tracing already keeps its own.
  const tracing = tracingActive() ? undefined : startTracing({ service: 'agora', instanceId: `agora-${process.pid}`, env: options.env ?? process.env });
  const metrics = new Metrics();
  const env = new EnvReader(options.env ?? process.env);
  const gatewayConfig = loadGatewayConfig(env);
  const tokens = new TokenService(config.jwtSecret);
  const storages = new StorageSet(config, options.storage);
  const transport = new InProcessTransport();
  // Calls through `transport` carry caller assertions like the cluster's (docs/security.md); the
  // secret lives as long as this process unless AGORA_INTERNAL_SECRET names one.
  const internalSecret = config.internalSecret ?? randomBytes(48).toString('base64url');
  const signer = new CallerAssertionSigner(internalSecret);
  const services: RunningService[] = [];
  // Service to service calls go straight to the callee's application object (SERVICE_MODULES is
  // in dependency order); the gateway still reaches every service through `transport`.
  const ports: Partial<ServicePorts> = {};
  let draining = false;
  const untracedBus: EventBus = config.natsUrl
    ? await connectNatsEventBus({
        url: config.natsUrl,
        logger: logger.child({ component: 'bus' }),
        metrics,
        name: `agora-${process.pid}`,
        ...(config.natsStream === undefined ? {} : { stream: config.natsStream }),
        replicas: config.natsStreamReplicas,
        ...(config.natsSubjectPrefix === undefined ? {} : { subjectPrefix: config.natsSubjectPrefix }),
      })
    : new InMemoryEventBus({ logger: logger.child({ component: 'bus' }), metrics });
  const bus = traceBus(untracedBus, config.natsUrl ? 'nats' : 'in-memory');
  try {
    await migrateAll(storages);
    const pooled = new Set<Storage>();
    for (const module of SERVICE_MODULES) {
      const storage = await storages.forService(module.name);
      if (storage instanceof PostgresStorage && !pooled.has(storage)) {
        pooled.add(storage);
        reportPool(metrics, config.serviceDatabaseUrls[module.name] ? module.name : 'main', () => storage.poolStats());
      }
      const service = await module.create({
        storage,
        logger: logger.child({ service: module.name }),
        metrics,
        clock: options.clock ?? systemClock,
        env,
        transport: traceTransport(new AssertingTransport(transport, signer, module.name)),
        tokens,
        bus,
        ports: { ...ports },
      });
      guardServiceRoutes(service.app, new CallerAssertionVerifier(internalSecret, module.name));
      transport.register(module.name, service.app);
      collectPorts(ports, service);
      services.push(service);
    }
    const readiness = (): ReadinessCheck[] => [
      ...services.flatMap((s) => s.readiness.map((check) => ({ name: `${s.name}.${check.name}`, check: check.check }))),
      { name: config.natsUrl ? 'nats' : 'bus', check: () => bus.ping() },
    ];
    const webRoot = options.webRoot === undefined ? builtWebApp() : options.webRoot || undefined;
    if (webRoot === undefined && options.webRoot === undefined) logger.warn(`the web app is not built (${WEB_APP_DIST} has no index.html): only the API is served; run npm run build -w @agora/web`);
    const gateway = await createGateway({
      transport: traceTransport(new AssertingTransport(transport, signer, 'gateway')),
      tokens,
      logger: logger.child({ service: 'gateway' }),
      metrics,
      config: gatewayConfig,
      readiness,
      isDraining: () => draining,
      // Storefront reads straight from the catalog's cache, flash-sale purchases straight to the
      // sale, adds to cart and checkouts straight to their services: without the transport.
      ...(ports.catalog ? { catalog: ports.catalog } : {}),
      ...(ports.inventory ? { inventory: ports.inventory } : {}),
      ...(ports.cart ? { cart: ports.cart } : {}),
      ...(ports.order ? { order: ports.order } : {}),
      ...(webRoot === undefined ? {} : { web: { root: webRoot } }),
      // The shards as the stored maps list them (docs/sharding.md).
      cluster: async () => ({ ...singleProcessView(services), shards: await storedShardRows(SHARDED_SERVICE_NAMES, (service) => storages.forService(service)) }),
      shards: () => shardOverview((service) => storages.forService(service), config.dbNamedStatements),
    });
    for (const service of services) await service.app.ready();
    await gateway.ready();
    for (const service of services) await service.start();
    return {
      config,
      gateway,
      services,
      storages,
      logger,
      metrics,
      tokens,
      async close() {
        draining = true;
        await gateway.close();
        for (const service of [...services].reverse()) await service.stop();
        await bus.close();
        await storages.close();
        await tracing?.shutdown();
      },
    };
  } catch (err) {
    for (const service of services) await service.stop().catch((e: unknown) => logger.warn({ err: e }, 'stopping a service after a failed start'));
    await bus.close().catch((e: unknown) => logger.warn({ err: e }, 'closing the bus after a failed start'));
    await storages.close().catch((e: unknown) => logger.warn({ err: e }, 'closing storage after a failed start'));
    await tracing?.shutdown();
    throw err;
  }
}
