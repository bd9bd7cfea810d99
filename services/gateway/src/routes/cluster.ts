import { Type, type Static } from 'typebox';
import type { HttpApp } from '@agora/platform';
import { BEARER_SECURITY, ok, problems } from '../schemas.js';
import { EXAMPLES } from '../examples.js';
import { TAGS } from '../openapi.js';

export const ClusterInstance = Type.Object({
  id: Type.String(),
  url: Type.String(),
  zone: Type.String(),
  version: Type.String(),
  weight: Type.Integer(),
  state: Type.String({ description: 'up | suspect | down | draining' }),
  lastHeartbeatAt: Type.Union([Type.String(), Type.Null()]),
  heartbeatAgeMs: Type.Union([Type.Integer(), Type.Null()]),
});

export const ClusterView = Type.Object({
  mode: Type.String({ description: '`single-process` (agora start) or `cluster`' }),
  generatedAt: Type.String(),
  services: Type.Array(
    Type.Object({ name: Type.String(), strategy: Type.String(), instances: Type.Array(ClusterInstance) }),
  ),
  breakers: Type.Array(
    Type.Object({ service: Type.String(), instanceId: Type.String(), url: Type.String(), state: Type.String(), consecutiveFailures: Type.Integer() }),
  ),
  shards: Type.Array(Type.Object({ service: Type.String(), id: Type.String(), version: Type.Integer() })),
});
export type ClusterView = Static<typeof ClusterView>;

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
