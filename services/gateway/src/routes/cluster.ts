import { ClusterView, ShardOverview } from '@agora/contracts';
import type { HttpApp } from '@agora/platform';
import { BEARER_SECURITY, ok, problems } from '../schemas.js';
import { EXAMPLES } from '../examples.js';
import { TAGS } from '../openapi.js';

/** Whoever runs the gateway knows the topology: the composition root supplies this view. */
export type ClusterViewSource = () => Promise<ClusterView>;

export function registerClusterRoute(app: HttpApp, source: ClusterViewSource): void {
  app.get(
    '/api/v1/admin/cluster',
    {
      schema: {
        tags: [TAGS.admin],
        operationId: 'clusterView',
        summary: 'Instances per service (heartbeat age, state), breaker states, balancing strategies and the shard map',
        security: BEARER_SECURITY,
        response: { 200: ok('The cluster as this gateway sees it', ClusterView, EXAMPLES.clusterView), ...problems() },
      },
      config: { access: 'admin' },
    },
    async () => source(),
  );
}

/** The sharded services' maps, shards and moves: the composition root reads them from the maps' databases. */
export type ShardOverviewSource = () => Promise<ShardOverview>;

export function registerShardsRoute(app: HttpApp, source: ShardOverviewSource): void {
  app.get(
    '/api/v1/admin/shards',
    {
      schema: {
        tags: [TAGS.admin],
        operationId: 'shardOverview',
        summary: "Every sharded service's newest shard map, each shard's share of the ring, its shoppers and rows, and the newest move's progress",
        security: BEARER_SECURITY,
        response: { 200: ok('The shards of orders and carts', ShardOverview, EXAMPLES.shardOverview), ...problems() },
      },
      config: { access: 'admin' },
    },
    async () => source(),
  );
}
