/**
 * The ports where the service client meets discovery and balancing. They are deliberately small:
 * discovery (`InstanceWatcher`) and balancing (`Balancer`, `HealthTracker`) implement or are adapted
 * to them, and tests use static lists and a stub balancer.
 */

/** One reachable instance of a service. */
export interface ServiceEndpoint {
  /** Stable instance id (the registry's), the key of its circuit breaker. */
  readonly id: string;
  /** Base URL, e.g. `http://10.0.0.7:3001` (a path prefix is kept: `http://host/catalog`). */
  readonly url: string;
  readonly weight?: number;
  readonly zone?: string;
}

/** Where the instances of a service are right now (discovery). Called on every attempt: keep it cheap. */
export interface EndpointSource {
  endpoints(service: string): readonly ServiceEndpoint[];
}

export interface EndpointPickOptions {
  /** Affinity key for consistent-hash balancers. */
  key?: string;
}

export interface EndpointAttemptOutcome {
  /** False on a transport failure or a 5xx answer — except a 503 with Retry-After (a shed: busy, not sick; `isLoadShed`). */
  ok: boolean;
  latencyMs: number;
}

/** Chooses an instance among candidates and learns from outcomes (balancing, outlier ejection). */
export interface EndpointBalancer {
  pick(candidates: readonly ServiceEndpoint[], options?: EndpointPickOptions): ServiceEndpoint | undefined;
  onStart(endpoint: ServiceEndpoint): void;
  onEnd(endpoint: ServiceEndpoint, outcome: EndpointAttemptOutcome): void;
}

export interface BalancerFactory {
  /** The balancer of one service; called once per service and kept. */
  forService(service: string): EndpointBalancer;
}

/** A fixed list per service: tests, and `agora cluster` before discovery is wired. */
export class StaticEndpointSource implements EndpointSource {
  private readonly lists = new Map<string, readonly ServiceEndpoint[]>();

  constructor(initial: Record<string, readonly ServiceEndpoint[]> = {}) {
    for (const [service, list] of Object.entries(initial)) this.set(service, list);
  }

  /** Replaces the list of a service (a new array, so the transport notices the change). */
  set(service: string, endpoints: readonly ServiceEndpoint[]): void {
    this.lists.set(service, Object.freeze([...endpoints]));
  }

  endpoints(service: string): readonly ServiceEndpoint[] {
    return this.lists.get(service) ?? [];
  }
}

/** The shape of a discovery watcher's instance list, as far as the client needs it. */
export interface WatchedInstance {
  readonly id: string;
  readonly url: string;
  readonly weight?: number;
  readonly zone?: string;
  readonly state: string;
}

export interface InstanceListPort {
  instances(): readonly WatchedInstance[];
}

/**
 * Adapts per-service discovery watchers to an EndpointSource: instances whose state `isServing`
 * accepts become endpoints. The filtered list is cached per watcher answer, so an unchanged
 * answer yields the same array and costs nothing downstream.
 */
export function watcherEndpointSource(
  watcherFor: (service: string) => InstanceListPort | undefined,
  isServing: (state: string) => boolean,
): EndpointSource {
  const cache = new Map<string, { from: readonly WatchedInstance[]; endpoints: readonly ServiceEndpoint[] }>();
  return {
    endpoints(service: string): readonly ServiceEndpoint[] {
      const watcher = watcherFor(service);
      if (!watcher) return [];
      const instances = watcher.instances();
      const cached = cache.get(service);
      if (cached && cached.from === instances) return cached.endpoints;
      const endpoints = Object.freeze(
        instances
          .filter((instance) => isServing(instance.state))
          .map((instance): ServiceEndpoint => ({
            id: instance.id,
            url: instance.url,
            ...(instance.weight === undefined ? {} : { weight: instance.weight }),
            ...(instance.zone === undefined ? {} : { zone: instance.zone }),
          })),
      );
      cache.set(service, { from: instances, endpoints });
      return endpoints;
    },
  };
}
