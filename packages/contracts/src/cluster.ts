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

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

/** One shard of a service's newest map, with what it holds. */
const ShardMember = Type.Object({
  id: Type.String(),
  /** `main database`, or the shard database's host, port and name (never its credentials). */
  where: Type.String(),
  /** hash maps: the member's weight and its exact share of the hash ring (0..1, summing to 1). */
  weight: Nullable(Type.Number()),
  share: Nullable(Type.Number()),
  /** range maps: the interval of keys the member owns (`to` null: to the end). */
  range: Nullable(Type.Object({ from: Type.String(), to: Nullable(Type.String()) })),
  /** Distinct shoppers and rows of the service's counted table on this shard; null when it could not be read (`error`). */
  shoppers: Nullable(Type.Integer({ minimum: 0 })),
  rows: Nullable(Type.Integer({ minimum: 0 })),
  error: Nullable(Type.String()),
});

/** The newest move of a service: running (its phase), done or abandoned. */
const ShardMove = Type.Object({
  fromVersion: Type.Integer(),
  toVersion: Type.Integer(),
  phase: Type.String({ description: 'copy | freeze | catch-up | switch | clean-up' }),
  outcome: Type.String({ description: 'running | done | abandoned' }),
  detail: Type.Record(Type.String(), Type.Unknown()),
  startedAt: Type.String(),
  updatedAt: Type.String(),
});

/** `GET /api/v1/admin/shards`: every sharded service's map, what each shard holds, and its newest move. */
export const ShardOverview = Type.Object({
  generatedAt: Type.String(),
  services: Type.Array(
    Type.Object({
      service: Type.String(),
      /** What `shoppers` and `rows` count on each shard (e.g. `orders`). */
      counted: Type.String(),
      version: Type.Integer(),
      strategy: Type.String({ description: 'hash | range' }),
      createdAt: Nullable(Type.String()),
      members: Type.Array(ShardMember),
      move: Nullable(ShardMove),
    }),
  ),
});
export type ShardOverview = Static<typeof ShardOverview>;
export type ShardOverviewService = ShardOverview['services'][number];
