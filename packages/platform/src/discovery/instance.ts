/**
 * What discovery knows about one running process of a service, and the record the registry keeps
 * for it. Records are plain JSON (ISO timestamps, no Dates) because the production registry is a
 * Redis value and a pub/sub message: what is stored is what every client reads back.
 */
export interface ServiceInstance {
  /** Unique per process (a UUIDv7 made at start): a restarted process is a new instance. */
  readonly id: string;
  /** The service it serves (`catalog`, `cart`, ...). */
  readonly service: string;
  /** Base URL callers use, e.g. `http://10.0.0.7:4103`. */
  readonly url: string;
  /** Relative capacity 1..100 for weighted strategies; {@link DEFAULT_INSTANCE_WEIGHT} by default. */
  readonly weight: number;
  /** Failure domain (rack, availability zone, host): zone-aware routing and spreading. */
  readonly zone: string;
  /** Build or release version: canaries and mixed-version rollouts are visible to clients. */
  readonly version: string;
  /** ISO time the process started: orders two incarnations that reuse an id. */
  readonly startedAt: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * - `up`: heartbeats arrive on time.
 * - `suspect`: a heartbeat is late (older than 1.5 intervals) but the instance is not yet given up;
 *   it still takes traffic, since a late heartbeat is usually a GC pause or a slow network.
 * - `down`: silent for a whole TTL, or its record is gone: no traffic.
 * - `draining`: shutting down on purpose; finishes what it has but takes nothing new.
 */
export type InstanceState = 'up' | 'suspect' | 'down' | 'draining';

/** What the registry stores per instance. */
export interface StoredRecord {
  readonly instance: ServiceInstance;
  /** ISO time of the last heartbeat, by the instance's own clock (a hint: clocks drift). */
  readonly lastHeartbeatAt: string;
  /**
   * Heartbeat counter, +1 on every write of this incarnation. Readers order records by
   * (startedAt, heartbeat) rather than by timestamps, so neither clock skew between hosts nor a
   * pub/sub message overtaken by a re-list can make an old record replace a newer one.
   */
  readonly heartbeat: number;
  readonly draining: boolean;
  /** The instance's own cadence, so every reader judges its silence by the same rule. */
  readonly heartbeatIntervalMs: number;
  readonly ttlMs: number;
}

/** A record as `Registry.list` returns it: with the state the registry reads off it. */
export interface InstanceRecord extends StoredRecord {
  readonly state: InstanceState;
}

export const DEFAULT_INSTANCE_WEIGHT = 10;
export const MIN_INSTANCE_WEIGHT = 1;
export const MAX_INSTANCE_WEIGHT = 100;

/** A heartbeat older than this many intervals makes an instance suspect (one late beat is tolerated). */
export const SUSPECT_AFTER_INTERVALS = 1.5;

/** Service names and instance ids are key segments in Redis: no `:` and nothing surprising. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class InvalidInstanceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidInstanceError';
  }
}

export function assertServiceName(service: string): void {
  if (!NAME.test(service)) throw new InvalidInstanceError(`service name must match ${NAME}, got "${service}"`);
}

/** Throws {@link InvalidInstanceError} naming the first bad field. */
export function assertValidInstance(instance: ServiceInstance): void {
  assertServiceName(instance.service);
  if (!NAME.test(instance.id)) throw new InvalidInstanceError(`instance id must match ${NAME}, got "${instance.id}"`);
  let url: URL;
  try {
    url = new URL(instance.url);
  } catch (err) {
    throw new InvalidInstanceError(`url of ${instance.id} is not a URL: "${instance.url}" (${err instanceof Error ? err.message : String(err)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidInstanceError(`url of ${instance.id} must be http(s), got ${url.protocol}`);
  if (!Number.isInteger(instance.weight) || instance.weight < MIN_INSTANCE_WEIGHT || instance.weight > MAX_INSTANCE_WEIGHT) {
    throw new InvalidInstanceError(`weight of ${instance.id} must be an integer in ${MIN_INSTANCE_WEIGHT}..${MAX_INSTANCE_WEIGHT}, got ${instance.weight}`);
  }
  if (instance.zone.length === 0) throw new InvalidInstanceError(`zone of ${instance.id} must not be empty`);
  if (instance.version.length === 0) throw new InvalidInstanceError(`version of ${instance.id} must not be empty`);
  if (Number.isNaN(Date.parse(instance.startedAt))) throw new InvalidInstanceError(`startedAt of ${instance.id} is not an ISO time: "${instance.startedAt}"`);
}

/**
 * Whether `candidate` is a later write than `current` of the same instance id: a later
 * incarnation (startedAt), or the same incarnation with a higher heartbeat counter.
 */
export function isNewer(candidate: StoredRecord, current: StoredRecord | undefined): boolean {
  if (!current) return true;
  const a = Date.parse(candidate.instance.startedAt);
  const b = Date.parse(current.instance.startedAt);
  if (a !== b) return a > b;
  return candidate.heartbeat > current.heartbeat;
}

/**
 * The state a registry reports for a stored record: what the record says, aged by the reader's
 * clock. Only a hint (clocks drift between hosts): the {@link FailureDetector} in each client is
 * the judge, and it times heartbeats by its own clock.
 */
export function recordState(record: StoredRecord, now: Date): InstanceState {
  const age = now.getTime() - Date.parse(record.lastHeartbeatAt);
  if (age >= record.ttlMs) return 'down';
  if (record.draining) return 'draining';
  return age < record.heartbeatIntervalMs * SUSPECT_AFTER_INTERVALS ? 'up' : 'suspect';
}

export function withState(record: StoredRecord, now: Date): InstanceRecord {
  return { ...record, state: recordState(record, now) };
}

/** Parses a record read from a store or a message; undefined when it is not one (logged by the caller). */
export function parseStoredRecord(raw: unknown): StoredRecord | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  const instance = r.instance as Record<string, unknown> | undefined;
  if (typeof instance !== 'object' || instance === null) return undefined;
  const strings = ['id', 'service', 'url', 'zone', 'version', 'startedAt'] as const;
  if (!strings.every((k) => typeof instance[k] === 'string') || typeof instance.weight !== 'number') return undefined;
  if (typeof r.lastHeartbeatAt !== 'string' || typeof r.heartbeat !== 'number' || typeof r.draining !== 'boolean') return undefined;
  if (typeof r.heartbeatIntervalMs !== 'number' || typeof r.ttlMs !== 'number') return undefined;
  const metadata = instance.metadata;
  if (metadata !== undefined && (typeof metadata !== 'object' || metadata === null)) return undefined;
  return {
    instance: {
      id: instance.id as string,
      service: instance.service as string,
      url: instance.url as string,
      weight: instance.weight,
      zone: instance.zone as string,
      version: instance.version as string,
      startedAt: instance.startedAt as string,
      ...(metadata ? { metadata: metadata as Record<string, string> } : {}),
    },
    lastHeartbeatAt: r.lastHeartbeatAt,
    heartbeat: r.heartbeat,
    draining: r.draining,
    heartbeatIntervalMs: r.heartbeatIntervalMs,
    ttlMs: r.ttlMs,
  };
}
