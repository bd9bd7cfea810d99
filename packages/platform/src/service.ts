import type { Clock, EnvReader } from '@agora/kernel';
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
}

/** A running service: its HTTP app (not listening; the runner decides), checks and shutdown. */
export interface RunningService {
  name: string;
  app: HttpApp;
  readiness: ReadinessCheck[];
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
