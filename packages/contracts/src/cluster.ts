import { Type, type Static } from 'typebox';

/** One instance of a service, as discovery last saw it. */
const ClusterInstance = Type.Object({
  id: Type.String(),
  url: Type.String(),
  zone: Type.String(),
  version: Type.String(),
  weight: Type.Integer(),
  state: Type.String({ description: 'up | suspect | down | draining' }),
  lastHeartbeatAt: Type.Union([Type.String(), Type.Null()]),
  heartbeatAgeMs: Type.Union([Type.Integer(), Type.Null()]),
});

/**
 * The cluster as a gateway sees it (`GET /api/v1/admin/cluster`): what the composition root
 * supplies, the gateway answers, and the bench and the tests read back. One declaration, here.
 */
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
