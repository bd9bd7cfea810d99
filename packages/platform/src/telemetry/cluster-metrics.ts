import type { BreakerState, BreakerStateName } from '../resilience/breaker.js';
import type { InstanceState } from '../discovery/instance.js';
import type { Metrics } from './metrics.js';

/** One instance as this process's watchers see it. */
export interface WatchedInstanceView {
  service: string;
  instanceId: string;
  state: InstanceState;
  /** When its last heartbeat was seen (by this process's clock). */
  lastSeenAt: Date;
}

/** What a process of a cluster knows of the others: its watchers' views and its breakers. */
export interface ClusterSnapshot {
  instances(): readonly WatchedInstanceView[];
  breakers(): readonly BreakerState[];
}

const BREAKER_STATES: readonly BreakerStateName[] = ['closed', 'half-open', 'open'];
const INSTANCE_STATES: readonly InstanceState[] = ['up', 'suspect', 'down', 'draining'];

/**
 * Cluster health as this process sees it, read at each scrape from its watchers and breakers (no
 * registry round trip): labels are service names, instance ids (bounded by the cluster's size:
 * a departed instance's series end with it) and fixed state names.
 * - `agora_discovery_heartbeat_age_seconds{service,instance_id}`: since the instance's last heartbeat;
 * - `agora_discovery_instances{service,state}`: instances per state, every state present (0 included);
 * - `agora_service_breaker_state{service,instance_id,state}`: 1 for the breaker's current state, 0 for the others.
 */
export function reportCluster(metrics: Metrics, snapshot: ClusterSnapshot, now: () => number = Date.now): void {
  metrics.scraped('agora_discovery_heartbeat_age_seconds', 'Seconds since the last heartbeat of each instance this process watches', ['service', 'instance_id'], () =>
    snapshot.instances().map((i) => ({ labels: { service: i.service, instance_id: i.instanceId }, value: Math.max(0, now() - i.lastSeenAt.getTime()) / 1000 })),
  );
  metrics.scraped('agora_discovery_instances', 'Instances this process watches, by service and state (up, suspect, down, draining)', ['service', 'state'], () => {
    const instances = snapshot.instances();
    const services = [...new Set(instances.map((i) => i.service))];
    return services.flatMap((service) =>
      INSTANCE_STATES.map((state) => ({ labels: { service, state }, value: instances.filter((i) => i.service === service && i.state === state).length })),
    );
  });
  metrics.scraped('agora_service_breaker_state', 'Circuit breaker of each upstream instance this process calls: 1 for its current state (closed, half-open, open)', ['service', 'instance_id', 'state'], () =>
    snapshot.breakers().flatMap((b) => BREAKER_STATES.map((state) => ({ labels: { service: b.service, instance_id: b.instanceId, state }, value: b.state === state ? 1 : 0 }))),
  );
}
