import type { HttpApp } from '@agora/platform';
import type { ClusterView } from '@agora/contracts';

/** Where Prometheus asks this gateway for the cluster's scrape targets (http_sd_configs; not a public API route). */
export const PROMETHEUS_TARGETS_PATH = '/internal/prometheus/targets';

/** One group of Prometheus HTTP service discovery: `host:port` targets sharing labels. */
export interface PrometheusTargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** Labels every target carries (`__meta_*`: relabelling material, dropped after it; see deploy/prometheus/prometheus.yml). */
export const TARGET_LABELS = { service: '__meta_agora_service', instanceId: '__meta_agora_instance_id', zone: '__meta_agora_zone' } as const;

/**
 * The instances this gateway's watchers know (up or suspect: those that take traffic), one group
 * per instance so each keeps its id. Dynamic ports are why: `agora cluster` binds port 0. A
 * single process (`agora start`) has no other targets than the gateway's own port: none.
 */
export function prometheusTargets(view: ClusterView): PrometheusTargetGroup[] {
  if (view.mode !== 'cluster') return [];
  return view.services.flatMap((service) =>
    service.instances
      .filter((instance) => instance.state === 'up' || instance.state === 'suspect')
      .map((instance) => ({
        targets: [new URL(instance.url).host],
        labels: { [TARGET_LABELS.service]: service.name, [TARGET_LABELS.instanceId]: instance.id, [TARGET_LABELS.zone]: instance.zone },
      })),
  );
}

/**
 * `GET /internal/prometheus/targets`: operational like `/metrics` (no token; kept off the public
 * edge by the proxy, docs/operations.md#metrics-alerts-and-dashboards) and absent from the OpenAPI
 * document (untagged).
 */
export function registerPrometheusTargets(app: HttpApp, source: () => Promise<ClusterView>): void {
  app.get(PROMETHEUS_TARGETS_PATH, { config: { operational: true } }, async () => prometheusTargets(await source()));
}
