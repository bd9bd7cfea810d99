import { SERVICE_NAMES } from '@agora/contracts';
import type { Env } from '@agora/kernel';
import {
  HttpTransport,
  InstanceWatcher,
  createBalancer,
  httpPoolSettingsFromEnv,
  parseBalancingConfig,
  parseDiscoveryConfig,
  resilienceSettingsFromEnv,
  type BalancingConfig,
  type DiscoveryConfig,
  type Logger,
  type Metrics,
  type Registry,
} from '@agora/platform';

/** Every service a process may call; one watcher each keeps the caller's view of its instances. */
export const CALLABLE_SERVICES = SERVICE_NAMES;

/**
 * The network side of one cluster process: watchers over the registry, a balancer per service
 * (strategy from AGORA_BALANCING), and the HTTP transport with timeouts, retries, breakers and
 * bulkheads. Cart calls use consistent-hash affinity on the user id unless configured otherwise.
 */
export class ClusterClient {
  readonly transport: HttpTransport;
  readonly balancing: BalancingConfig;
  readonly discovery: DiscoveryConfig;

  private constructor(
    private readonly watchers: ReadonlyMap<string, InstanceWatcher>,
    env: Env,
    metrics: Metrics,
    logger: Logger,
  ) {
    this.discovery = parseDiscoveryConfig(env);
    this.balancing = parseBalancingConfig(env);
    const balancing = this.balancing;
    this.transport = new HttpTransport({
      endpoints: { endpoints: (service: string) => watchers.get(service)?.instances() ?? [] },
      balancers: { forService: (service: string) => createBalancer(balancing.strategyFor(service), { outlier: balancing.outlier }) },
      resilience: resilienceSettingsFromEnv(env),
      pool: httpPoolSettingsFromEnv(env),
      metrics,
      logger,
      affinityKey: (_service, request) => request.caller?.userId,
    });
  }

  static async connect(registry: Registry, env: Env, metrics: Metrics, logger: Logger): Promise<ClusterClient> {
    const discovery = parseDiscoveryConfig(env);
    const watchers = new Map<string, InstanceWatcher>();
    for (const service of CALLABLE_SERVICES) {
      watchers.set(service, await InstanceWatcher.start({ registry, service, logger, relistIntervalMs: discovery.relistIntervalMs }));
    }
    return new ClusterClient(watchers, env, metrics, logger);
  }

  watcher(service: string): InstanceWatcher | undefined {
    return this.watchers.get(service);
  }

  async close(): Promise<void> {
    await this.transport.close();
    await Promise.all([...this.watchers.values()].map((w) => w.close()));
  }
}
