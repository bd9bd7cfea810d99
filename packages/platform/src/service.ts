import type { Clock, EnvReader } from '@agora/kernel';
import type { ServicePorts } from '@agora/contracts';
import type { HttpApp } from './http/app.js';
import type { ReadinessCheck } from './http/health.js';
import type { Logger } from './telemetry/logger.js';
import type { Metrics } from './telemetry/metrics.js';
import type { ServiceTransport } from './service-client/transport.js';
import type { Storage } from './storage/storage.js';
import type { TokenService } from './auth/tokens.js';
import type { EventBus } from './messaging/bus.js';

/** What the composition root hands every service. */
export interface ServiceDeps {
  storage: Storage;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  env: EnvReader;
  /** How this service reaches the others. */
  transport: ServiceTransport;
  tokens: TokenService;
  /** Facts other services react to (in-memory in one process, NATS JetStream on real servers). */
  bus: EventBus;
  /**
   * The typed ports of the services already running in this process (`agora start` creates them
   * in dependency order), called directly. A port that is absent is reached over `transport`
   * (`httpPorts`), which is all the cluster has.
   */
  ports?: Partial<ServicePorts>;
}

/** A running service: its HTTP app (not listening; the runner decides), checks and shutdown. */
export interface RunningService {
  name: string;
  app: HttpApp;
  readiness: ReadinessCheck[];
  /**
   * The ports this service offers to callers in the same process, keyed by its own name (at most
   * its own port): its application object behind the port, without the HTTP round trip.
   */
  ports?: Partial<ServicePorts>;
  /** Background work (sweepers, relays) starts here, after every service is built. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** How a service plugs into `agora start` / `agora service NAME`. */
export interface ServiceModule {
  name: string;
  /** Absolute path of the drizzle migration folder; absent for stateless services. */
  migrationsFolder?: string;
  create(deps: ServiceDeps): Promise<RunningService>;
}
