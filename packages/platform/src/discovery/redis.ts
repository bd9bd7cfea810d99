import { Redis } from 'ioredis';
import { systemClock, type Clock } from '@agora/kernel';
import type { Logger } from '../telemetry/logger.js';
import { assertServiceName, assertValidInstance, parseStoredRecord, withState, type InstanceRecord, type ServiceInstance, type StoredRecord } from './instance.js';
import {
  HeartbeatRegistration,
  resolveRegisterOptions,
  type RecordWriter,
  type RegisterOptions,
  type Registration,
  type Registry,
  type RegistryEvent,
  type RegistryEventType,
  type RegistryListener,
} from './registry.js';
import { systemScheduler, type Scheduler } from './scheduler.js';

export interface RedisRegistryOptions {
  url: string;
  logger: Logger;
  /** Prefix of every key and channel; tests use a unique one each. */
  keyPrefix?: string;
  clock?: Clock;
  scheduler?: Scheduler;
  /** A command not answered in this time fails (and the caller keeps its last view). */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Connection name shown by CLIENT LIST. */
  name?: string;
}

export const REDIS_REGISTRY_DEFAULTS = {
  keyPrefix: 'agora:discovery',
  /** Shorter than a heartbeat TTL, so a stuck command cannot hide a dead Redis for a whole TTL. */
  commandTimeoutMs: 1_000,
  connectTimeoutMs: 3_000,
  /** Reconnect quickly (100 ms, 200 ms, ... capped at 1 s): heartbeats resume soon after Redis does. */
  maxReconnectDelayMs: 1_000,
} as const;

/**
 * Lists a service in one round trip and atomically prunes the index: members whose key has expired
 * are removed from the set in the same script, so no register (SET + SADD in one MULTI) can slip
 * between "saw it missing" and "removed it". The script reads keys it derives from the index
 * rather than receiving them in KEYS: right for a single Redis or Sentinel, not for Redis Cluster
 * (which would need every key of a service in one hash slot).
 */
const LIST_SCRIPT = `
local members = redis.call('SMEMBERS', KEYS[1])
local found = {}
for _, id in ipairs(members) do
  local value = redis.call('GET', ARGV[1] .. id)
  if value then
    table.insert(found, value)
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return found
`;

interface DiscoveryCommands {
  agoraDiscoveryList(indexKey: string, keyPrefix: string): Promise<unknown>;
}

/**
 * Connects the Redis registry and checks the server answers: a cluster started against an
 * unreachable Redis stops with a clear error instead of running blind. Later losses are survived:
 * ioredis reconnects, heartbeats retry every interval, watchers keep their last view.
 */
export async function connectRedisRegistry(options: RedisRegistryOptions): Promise<RedisRegistry> {
  const redis = new Redis(options.url, {
    lazyConnect: true,
    connectionName: options.name ?? 'agora-discovery',
    connectTimeout: options.connectTimeoutMs ?? REDIS_REGISTRY_DEFAULTS.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs ?? REDIS_REGISTRY_DEFAULTS.commandTimeoutMs,
    // Fail a command after one reconnect attempt instead of queueing it for 20: a heartbeat or a
    // re-list is repeated on the next tick anyway, and a stale queued one is worthless.
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 100, REDIS_REGISTRY_DEFAULTS.maxReconnectDelayMs),
  });
  // Until the registry installs its own listener: a refused first connection is reported by the
  // rejected connect() below, not as an unhandled 'error' event.
  const onConnectError = (err: Error) => options.logger.debug({ err }, 'discovery: Redis connection error while connecting');
  redis.on('error', onConnectError);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(`discovery: Redis at ${redact(options.url)} does not answer: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  redis.off('error', onConnectError);
  return new RedisRegistry(redis, options);
}

/**
 * Layout, for a service S and an instance I under prefix P (default `agora:discovery`):
 * - `P:S:I` — string, the instance's record as JSON, with a PX TTL every heartbeat renews;
 * - `P:S` — set of the instance ids of S (an index: SCAN over the keyspace would be O(all keys));
 * - channel `P:S` — every write and deregistration is published there for watchers.
 * Ids and service names cannot contain `:`, so the index key never collides with a record key.
 */
export class RedisRegistry implements Registry {
  private readonly commands: Redis & DiscoveryCommands;
  private readonly prefix: string;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly logger: Logger;
  private readonly registrations = new Set<HeartbeatRegistration>();
  /** Pub/sub needs a connection of its own: a subscribed connection cannot send other commands. */
  private subscriber: Redis | undefined;
  private readonly listeners = new Map<string, Set<RegistryListener>>();
  private readonly subscribing = new Map<string, Promise<void>>();
  /** How long a first SUBSCRIBE may take (the subscriber connection has no ioredis timeout). */
  private readonly commandTimeoutMs: number;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    options: RedisRegistryOptions,
  ) {
    redis.defineCommand('agoraDiscoveryList', { numberOfKeys: 1, lua: LIST_SCRIPT });
    this.commands = redis as Redis & DiscoveryCommands;
    this.prefix = options.keyPrefix ?? REDIS_REGISTRY_DEFAULTS.keyPrefix;
    this.clock = options.clock ?? systemClock;
    this.scheduler = options.scheduler ?? systemScheduler;
    this.logger = options.logger;
    this.commandTimeoutMs = options.commandTimeoutMs ?? REDIS_REGISTRY_DEFAULTS.commandTimeoutMs;
    // ioredis emits 'error' on every failed reconnect attempt; unhandled, that would crash the process.
    redis.on('error', (err: Error) => this.logger.debug({ err }, 'discovery: Redis connection error'));
  }

  async register(instance: ServiceInstance, options?: RegisterOptions): Promise<Registration> {
    this.assertOpen();
    assertValidInstance(instance);
    const timing = resolveRegisterOptions(options);
    const writer: RecordWriter = {
      write: (record, event) => this.write(record, event),
      erase: (record) => this.erase(record),
    };
    const registration: HeartbeatRegistration = new HeartbeatRegistration(writer, instance, timing, {
      clock: this.clock,
      scheduler: this.scheduler,
      logger: this.logger,
      onFinished: () => this.registrations.delete(registration),
    });
    this.registrations.add(registration);
    try {
      await registration.start();
    } catch (err) {
      registration.stop();
      this.registrations.delete(registration);
      throw err;
    }
    return registration;
  }

  async list(service: string): Promise<InstanceRecord[]> {
    this.assertOpen();
    assertServiceName(service);
    const raw = await this.commands.agoraDiscoveryList(this.indexKey(service), `${this.prefix}:${service}:`);
    if (!Array.isArray(raw)) throw new Error(`discovery: unexpected reply to the list script: ${typeof raw}`);
    const now = this.clock.now();
    const records: InstanceRecord[] = [];
    for (const value of raw) {
      const record = typeof value === 'string' ? this.parse(value) : undefined;
      if (record) records.push(withState(record, now));
    }
    return records.sort((a, b) => (a.instance.id < b.instance.id ? -1 : a.instance.id > b.instance.id ? 1 : 0));
  }

  async watch(service: string, listener: RegistryListener): Promise<() => Promise<void>> {
    this.assertOpen();
    assertServiceName(service);
    const channel = this.channel(service);
    const subscriber = this.subscriberConnection();
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      // ioredis re-subscribes on its own after a reconnect (autoResubscribe); what was published
      // while disconnected is lost, which the watcher's periodic re-list makes up for.
      const subscribing = withinMs(subscriber.subscribe(channel).then(() => undefined), this.commandTimeoutMs, `SUBSCRIBE ${channel}`);
      this.subscribing.set(channel, subscribing);
      try {
        await subscribing;
      } catch (err) {
        this.listeners.delete(channel);
        throw err;
      } finally {
        this.subscribing.delete(channel);
      }
    } else {
      // A concurrent first watch of this channel may still be subscribing: resolve only once it is.
      await this.subscribing.get(channel);
    }
    const subscription: RegistryListener = (event) => listener(event);
    set.add(subscription);
    return async () => {
      const current = this.listeners.get(channel);
      if (!current?.delete(subscription) || current.size > 0) return;
      this.listeners.delete(channel);
      if (this.closed) return;
      try {
        await subscriber.unsubscribe(channel);
      } catch (err) {
        // Redis is unreachable: the listener is already gone, so messages that arrive after a
        // reconnect (ioredis re-subscribes what it remembers) find nobody and are dropped. Closing
        // a watcher must work during an outage.
        this.logger.warn({ err, channel }, 'discovery: UNSUBSCRIBE failed; the channel stays subscribed but unheard');
      }
    };
  }

  isConnected(): boolean {
    return !this.closed && this.redis.status === 'ready';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const registration of this.registrations) registration.stop();
    this.registrations.clear();
    this.listeners.clear();
    await Promise.all([this.redis, this.subscriber].map((connection) => (connection ? quit(connection, this.logger) : undefined)));
  }

  private async write(record: StoredRecord, event: Exclude<RegistryEventType, 'deregistered'>): Promise<void> {
    this.assertOpen();
    const { service, id } = record.instance;
    // SET (not PEXPIRE): a heartbeat after the record expired — Redis was down, the process was
    // paused — puts the whole record back. SADD every time heals an index entry a racing prune removed.
    const results = await this.redis
      .multi()
      .set(this.recordKey(service, id), JSON.stringify(record), 'PX', record.ttlMs)
      .sadd(this.indexKey(service), id)
      .publish(this.channel(service), JSON.stringify({ type: event, id, record }))
      .exec();
    assertTransaction(results);
  }

  private async erase(record: StoredRecord): Promise<void> {
    this.assertOpen();
    const { service, id } = record.instance;
    const results = await this.redis
      .multi()
      .del(this.recordKey(service, id))
      .srem(this.indexKey(service), id)
      .publish(this.channel(service), JSON.stringify({ type: 'deregistered', id, record }))
      .exec();
    assertTransaction(results);
  }

  private subscriberConnection(): Redis {
    if (this.subscriber) return this.subscriber;
    // Without ioredis's command timeout: after a reconnect ioredis re-subscribes on its own and
    // leaves that command's promise unhandled, so its timeout (a paused or CPU-starved process)
    // would kill Node. The first SUBSCRIBE of a channel is bounded by watch() instead.
    const subscriber = this.redis.duplicate({ connectionName: 'agora-discovery-watch', commandTimeout: undefined });
    subscriber.on('error', (err: Error) => this.logger.debug({ err }, 'discovery: Redis subscriber connection error'));
    subscriber.on('message', (channel: string, message: string) => this.deliver(channel, message));
    this.subscriber = subscriber;
    return subscriber;
  }

  private deliver(channel: string, message: string): void {
    const set = this.listeners.get(channel);
    if (!set) return;
    const event = this.parseEvent(channel, message);
    if (!event) return;
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err, channel, type: event.type }, 'discovery: watch listener threw');
      }
    }
  }

  private parseEvent(channel: string, message: string): RegistryEvent | undefined {
    let body: unknown;
    try {
      body = JSON.parse(message);
    } catch (err) {
      this.logger.warn({ err, channel }, 'discovery: ignoring a message that is not JSON');
      return undefined;
    }
    const { type, record: rawRecord } = (typeof body === 'object' && body !== null ? body : {}) as { type?: unknown; record?: unknown };
    const record = parseStoredRecord(rawRecord);
    const types: readonly string[] = ['registered', 'heartbeat', 'draining', 'deregistered'] satisfies RegistryEventType[];
    if (typeof type !== 'string' || !types.includes(type) || !record) {
      this.logger.warn({ channel }, 'discovery: ignoring a malformed discovery message');
      return undefined;
    }
    return { type: type as RegistryEventType, service: record.instance.service, id: record.instance.id, record };
  }

  private parse(value: string): StoredRecord | undefined {
    let body: unknown;
    try {
      body = JSON.parse(value);
    } catch (err) {
      this.logger.warn({ err }, 'discovery: ignoring a record that is not JSON');
      return undefined;
    }
    const record = parseStoredRecord(body);
    if (!record) this.logger.warn('discovery: ignoring a malformed record');
    return record;
  }

  private recordKey(service: string, id: string): string {
    return `${this.prefix}:${service}:${id}`;
  }

  private indexKey(service: string): string {
    return `${this.prefix}:${service}`;
  }

  private channel(service: string): string {
    return `${this.prefix}:${service}`;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('registry is closed');
  }
}

/** `work`, or an error once `ms` have passed; a late rejection of `work` is absorbed, never unhandled. */
function withinMs<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`discovery: ${what} got no answer within ${ms} ms`)), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** MULTI/EXEC reports per-command errors in its result instead of rejecting; surface them. */
function assertTransaction(results: [error: Error | null, result: unknown][] | null): void {
  if (results === null) throw new Error('discovery: Redis transaction was aborted');
  for (const [error] of results) if (error) throw error;
}

async function quit(connection: Redis, logger: Logger): Promise<void> {
  try {
    await connection.quit();
  } catch (err) {
    // QUIT fails when the connection is already down; drop the socket and stop reconnecting.
    logger.debug({ err }, 'discovery: QUIT failed, disconnecting');
    connection.disconnect();
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch (err) {
    return `(unparsable URL: ${err instanceof Error ? err.message : String(err)})`;
  }
}
