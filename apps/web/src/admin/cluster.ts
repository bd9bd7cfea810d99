/**
 * `/api/v1/admin/cluster`: `{ mode, generatedAt, services: [{ name, strategy, instances: [{ id,
 * url, zone, version, weight, state, lastHeartbeatAt, heartbeatAgeMs }] }], breakers: [{ service,
 * instanceId, url, state, consecutiveFailures }], shards }` (services/gateway/src/routes/cluster.ts).
 * Read defensively — maps keyed by service and other field names work too — so the page keeps
 * working while that endpoint evolves, and shows the raw JSON for anything it does not recognise.
 */
export interface ClusterInstance {
  service: string;
  id: string;
  url: string | undefined;
  zone: string | undefined;
  /** How old the last heartbeat was when the view was made (the server's own figure when it gives one). */
  heartbeatAgeMs: number | undefined;
  state: string;
}

export interface ClusterBreaker {
  name: string;
  url: string | undefined;
  state: string;
  failures: number | undefined;
}

export interface ClusterView {
  /** `single-process` (agora start) or `cluster`; undefined when not said. */
  mode: string | undefined;
  strategies: Record<string, string>;
  instances: ClusterInstance[];
  breakers: ClusterBreaker[];
  shardCount: number;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

function time(v: unknown): number | undefined {
  if (typeof v === 'number') return v < 1e12 ? v * 1000 : v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

function first(o: Json, keys: readonly string[]): unknown {
  for (const k of keys) if (o[k] !== undefined) return o[k];
  return undefined;
}

function instanceOf(v: unknown, service: string | undefined, index: number, now: number): ClusterInstance | undefined {
  if (!isObject(v)) return undefined;
  const svc = service ?? str(first(v, ['service', 'serviceName', 'name']));
  if (!svc) return undefined;
  const age = first(v, ['heartbeatAgeMs', 'ageMs']);
  const at = time(first(v, ['lastHeartbeatAt', 'lastHeartbeat', 'heartbeatAt', 'lastSeen', 'lastSeenAt', 'heartbeat']));
  return {
    service: svc,
    id: str(first(v, ['id', 'instanceId', 'instance'])) ?? `${svc}-${index + 1}`,
    url: str(first(v, ['url', 'address', 'endpoint'])),
    zone: str(v.zone),
    heartbeatAgeMs: typeof age === 'number' ? age : at === undefined ? undefined : now - at,
    state: str(first(v, ['state', 'status', 'health'])) ?? 'unknown',
  };
}

function instancesFrom(v: unknown, now: number, service?: string): ClusterInstance[] {
  if (Array.isArray(v)) return v.map((item, i) => instanceOf(item, service, i, now)).filter((x): x is ClusterInstance => x !== undefined);
  if (isObject(v)) {
    return Object.entries(v).flatMap(([key, value]) => {
      if (Array.isArray(value)) return instancesFrom(value, now, key);
      if (isObject(value) && Array.isArray(value.instances)) return instancesFrom(value.instances, now, key);
      return [];
    });
  }
  return [];
}

function breakersFrom(v: unknown): ClusterBreaker[] {
  if (Array.isArray(v)) {
    return v.flatMap((b) => {
      if (!isObject(b)) return [];
      const base = str(first(b, ['name', 'target', 'service', 'key', 'id']));
      const instance = str(b.instanceId);
      const name = base && instance ? `${base} → ${instance}` : (base ?? instance);
      const state = str(first(b, ['state', 'status']));
      const failures = first(b, ['consecutiveFailures', 'failures']);
      return name && state ? [{ name, state, url: str(b.url), failures: typeof failures === 'number' ? failures : undefined }] : [];
    });
  }
  if (isObject(v)) {
    return Object.entries(v).flatMap(([name, value]) => {
      const state = typeof value === 'string' ? value : isObject(value) ? str(first(value, ['state', 'status'])) : undefined;
      return state ? [{ name, state, url: undefined, failures: undefined }] : [];
    });
  }
  return [];
}

export function normalizeCluster(body: unknown, now: number = Date.now()): ClusterView | undefined {
  if (!isObject(body)) return undefined;
  let instances: ClusterInstance[] = [];
  const strategies: Record<string, string> = {};
  if (Array.isArray(body.services)) {
    instances = body.services.flatMap((s) => {
      if (!isObject(s)) return [];
      const name = str(first(s, ['name', 'service']));
      const strategy = str(s.strategy);
      if (name && strategy) strategies[name] = strategy;
      return instancesFrom(s.instances, now, name);
    });
  } else if (body.services !== undefined) {
    instances = instancesFrom(body.services, now);
  }
  if (instances.length === 0 && body.instances !== undefined) instances = instancesFrom(body.instances, now);
  const breakers = breakersFrom(first(body, ['breakers', 'circuitBreakers', 'circuits']));
  const mode = str(body.mode);
  if (instances.length === 0 && breakers.length === 0 && mode === undefined) return undefined;
  return { mode, strategies, instances, breakers, shardCount: Array.isArray(body.shards) ? body.shards.length : 0 };
}

export function ageText(ms: number): string {
  if (ms < 0) return 'just now';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}
