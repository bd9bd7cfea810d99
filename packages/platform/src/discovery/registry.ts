import type { Clock } from '@agora/kernel';
import type { Logger } from '../telemetry/logger.js';
import type { InstanceRecord, ServiceInstance, StoredRecord } from './instance.js';
import type { Scheduler, TimerHandle } from './scheduler.js';

/**
 * The discovery port. Instances register with a TTL and keep their record alive by heartbeating;
 * a record not refreshed within its TTL disappears on its own — which is how a process that died
 * without saying goodbye (SIGKILL, power loss, partition) leaves the registry. Clients list and
 * watch a service and judge liveness themselves (see FailureDetector, InstanceWatcher).
 */
export interface Registry {
  /** Writes the first record (so it is listed when this resolves) and starts heartbeating. */
  register(instance: ServiceInstance, options?: RegisterOptions): Promise<Registration>;
  /** Every live record of `service`, sorted by instance id. */
  list(service: string): Promise<InstanceRecord[]>;
  /**
   * Calls `listener` on every change to `service` made through any client of this registry.
   * Delivery is best effort (Redis pub/sub drops messages during a disconnect): a watcher must
   * also re-list periodically. Resolves once subscribed; the returned function unsubscribes.
   */
  watch(service: string, listener: RegistryListener): Promise<() => Promise<void>>;
  /**
   * Whether the registry is connected right now, as far as this client can tell without a round
   * trip (Redis: the connection is ready, not reconnecting). Watchers use it to stop reading
   * silence as death the moment the registry goes away, rather than a failed list later.
   */
  isConnected(): boolean;
  /** Stops every registration's heartbeats (without deregistering) and releases connections. */
  close(): Promise<void>;
}

export interface RegisterOptions {
  /** How long the record outlives its last heartbeat. Default {@link DISCOVERY_DEFAULTS}.ttlMs. */
  ttlMs?: number;
  /** Default ttl/3: two heartbeats can be lost before the record expires. */
  heartbeatIntervalMs?: number;
}

/** One registered instance; heartbeats on its own timer until stopped or deregistered. */
export interface Registration {
  readonly instance: ServiceInstance;
  readonly ttlMs: number;
  readonly heartbeatIntervalMs: number;
  /** The counter carried by the last heartbeat written (1 after register). */
  readonly heartbeats: number;
  /** Writes a heartbeat now (the timer does this every interval); also re-creates an expired record. */
  heartbeat(): Promise<void>;
  /**
   * Marks the instance draining (or back to serving): clients stop sending it new requests while it
   * finishes the ones it has. Step one of a graceful shutdown, before `deregister`.
   */
  setDraining(draining?: boolean): Promise<void>;
  /** Stops the heartbeat timer; the record then expires after its TTL. What a crash looks like to others. */
  stop(): void;
  /** Stops heartbeating and removes the record at once, telling watchers. */
  deregister(): Promise<void>;
}

export type RegistryEventType = 'registered' | 'heartbeat' | 'draining' | 'deregistered';

export interface RegistryEvent {
  readonly type: RegistryEventType;
  readonly service: string;
  readonly id: string;
  /** The record written; for `deregistered`, the last record the instance wrote. */
  readonly record: StoredRecord;
}

export type RegistryListener = (event: RegistryEvent) => void;

/**
 * Defaults sized for the cluster's target — an instance killed with SIGKILL is out of every
 * client's view within 3 s:
 * - heartbeat every 500 ms, TTL 1.5 s (= 3 intervals, so two lost heartbeats are tolerated);
 * - the client's failure detector declares an instance down after a TTL of silence, evaluated
 *   every 250 ms: worst case ~1.75 s after the kill when heartbeats reach the client by pub/sub;
 * - re-list every 1 s as the fallback when pub/sub messages are lost: worst case
 *   TTL + re-list + tick ≈ 2.75 s, still inside 3 s.
 * The cost is 2 small writes per second per instance, which Redis does not notice. Raise both for
 * big clusters or slow networks; keep TTL ≥ 2 intervals.
 */
export const DISCOVERY_DEFAULTS = {
  heartbeatIntervalMs: 500,
  ttlMs: 1_500,
  relistIntervalMs: 1_000,
  detectorTickMs: 250,
  /**
   * A re-list unanswered for this long makes the watcher treat the registry as unreachable (a
   * half-open connection fails no command until its timeout). A healthy list takes a millisecond
   * or two; holding early is cheap because only the held time is forgiven on recovery.
   */
  relistTimeoutMs: 250,
} as const;

/** Resolves register options: interval defaults to ttl/3, and TTL must cover two intervals. */
export function resolveRegisterOptions(options: RegisterOptions = {}): { ttlMs: number; heartbeatIntervalMs: number } {
  const ttlMs = options.ttlMs ?? DISCOVERY_DEFAULTS.ttlMs;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? Math.max(1, Math.floor(ttlMs / 3));
  if (!Number.isInteger(ttlMs) || ttlMs < 2) throw new RangeError(`ttlMs must be an integer >= 2, got ${ttlMs}`);
  if (!Number.isInteger(heartbeatIntervalMs) || heartbeatIntervalMs < 1) throw new RangeError(`heartbeatIntervalMs must be a positive integer, got ${heartbeatIntervalMs}`);
  // One lost heartbeat must not expire a live instance.
  if (ttlMs < 2 * heartbeatIntervalMs) throw new RangeError(`ttlMs (${ttlMs}) must be at least twice heartbeatIntervalMs (${heartbeatIntervalMs})`);
  return { ttlMs, heartbeatIntervalMs };
}

/** What an adapter does with records; the heartbeat logic around it is shared by every adapter. */
export interface RecordWriter {
  /** Stores the record for its TTL (replacing any previous one) and tells watchers. */
  write(record: StoredRecord, event: Exclude<RegistryEventType, 'deregistered'>): Promise<void>;
  /** Removes the record and tells watchers; `record` is the last one written. */
  erase(record: StoredRecord): Promise<void>;
}

export interface HeartbeatDeps {
  clock: Clock;
  scheduler: Scheduler;
  logger?: Logger;
  /** Called once when the registration stops for good, so the registry forgets it. */
  onFinished?: () => void;
}

/**
 * A registration shared by both adapters, so they cannot differ in heartbeat semantics.
 *
 * Writes go through one queue: the counter is assigned when a write actually starts, so the store
 * sees counters in increasing order even when a manual heartbeat and `setDraining` race the timer.
 * A timer tick that finds a write still in flight (the store is slow or reconnecting) skips
 * instead of piling up writes that would all land at once on reconnect.
 */
export class HeartbeatRegistration implements Registration {
  readonly ttlMs: number;
  readonly heartbeatIntervalMs: number;
  private counter = 0;
  private draining = false;
  private last: StoredRecord | undefined;
  private timer: TimerHandle | undefined;
  private queue: Promise<void> = Promise.resolve();
  private pendingWrites = 0;
  private failing = false;
  private deregistered = false;

  constructor(
    private readonly writer: RecordWriter,
    readonly instance: ServiceInstance,
    timing: { ttlMs: number; heartbeatIntervalMs: number },
    private readonly deps: HeartbeatDeps,
  ) {
    this.ttlMs = timing.ttlMs;
    this.heartbeatIntervalMs = timing.heartbeatIntervalMs;
  }

  get heartbeats(): number {
    return this.counter;
  }

  /** First write, then the timer. A first write that fails throws: a service must not start unseen. */
  async start(): Promise<void> {
    await this.enqueue('registered');
    if (!this.deregistered) this.timer = this.deps.scheduler.setInterval(() => this.tick(), this.heartbeatIntervalMs);
  }

  heartbeat(): Promise<void> {
    return this.enqueue('heartbeat');
  }

  setDraining(draining = true): Promise<void> {
    this.draining = draining;
    return this.enqueue(draining ? 'draining' : 'heartbeat');
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  async deregister(): Promise<void> {
    if (this.deregistered) return;
    this.deregistered = true;
    this.stop();
    // Let a write in flight land first, or it would re-create the record just erased.
    await this.queue;
    const last = this.last ?? this.record();
    this.deps.onFinished?.();
    await this.writer.erase(last);
  }

  private tick(): void {
    if (this.pendingWrites > 0) {
      this.deps.logger?.debug({ service: this.instance.service, id: this.instance.id }, 'discovery: heartbeat skipped, previous write still in flight');
      return;
    }
    this.enqueue('heartbeat').catch((err: unknown) => this.reportFailure(err));
  }

  private enqueue(event: 'registered' | 'heartbeat' | 'draining'): Promise<void> {
    if (this.deregistered) return Promise.reject(new Error(`instance ${this.instance.id} of ${this.instance.service} is deregistered`));
    this.pendingWrites++;
    const write = this.queue.then(async () => {
      const record = this.record();
      await this.writer.write(record, event);
      this.last = record;
      if (this.failing) {
        this.failing = false;
        this.deps.logger?.info({ service: this.instance.service, id: this.instance.id }, 'discovery: heartbeats reach the registry again');
      }
    });
    const settled = write.finally(() => {
      this.pendingWrites--;
    });
    // The queue continues after a failed write; the caller still sees the failure through `settled`.
    this.queue = settled.then(
      () => undefined,
      () => undefined,
    );
    return settled;
  }

  /** A fresh record with the next counter value. A failed write still uses up its number: harmless, counters only need to grow. */
  private record(): StoredRecord {
    this.counter++;
    return {
      instance: this.instance,
      lastHeartbeatAt: this.deps.clock.now().toISOString(),
      heartbeat: this.counter,
      draining: this.draining,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      ttlMs: this.ttlMs,
    };
  }

  /** Logs the first failure of a streak only: at two heartbeats a second, a Redis outage would flood the log. */
  private reportFailure(err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.deps.logger?.warn({ err, service: this.instance.service, id: this.instance.id }, 'discovery: heartbeat failed; retrying every interval');
  }
}
