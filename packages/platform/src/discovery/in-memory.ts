import { systemClock, type Clock } from '@agora/kernel';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { assertServiceName, assertValidInstance, withState, type InstanceRecord, type ServiceInstance, type StoredRecord } from './instance.js';
import { HeartbeatRegistration, resolveRegisterOptions, type RecordWriter, type RegisterOptions, type Registration, type Registry, type RegistryEvent, type RegistryListener } from './registry.js';
import { systemScheduler, type Scheduler } from './scheduler.js';

export interface InMemoryRegistryOptions {
  clock?: Clock;
  scheduler?: Scheduler;
  logger?: Logger;
}

interface Entry {
  record: StoredRecord;
  /** Epoch ms after which the record is gone, as a Redis key with PX would be. */
  expiresAt: number;
}

/**
 * The registry of `npm start`, where every service runs in one process, and of fast tests. It keeps
 * the Redis adapter's semantics on purpose, including the inconvenient ones, so that code proven
 * here behaves the same in the cluster:
 * - a record expires `ttlMs` after its last write, silently — no event, exactly like a Redis key
 *   expiring; watchers find out on their next re-list;
 * - events are delivered asynchronously (after the write resolves), like pub/sub messages.
 * Time comes from the injected clock and timers from the injected scheduler, so a test drives
 * heartbeats and expiry with a ManualScheduler and never sleeps.
 */
export class InMemoryRegistry implements Registry {
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly logger: Logger;
  private readonly services = new Map<string, Map<string, Entry>>();
  private readonly listeners = new Map<string, Set<RegistryListener>>();
  private readonly registrations = new Set<HeartbeatRegistration>();
  private closed = false;

  constructor(options: InMemoryRegistryOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.scheduler = options.scheduler ?? systemScheduler;
    this.logger = options.logger ?? createLogger('discovery');
  }

  async register(instance: ServiceInstance, options?: RegisterOptions): Promise<Registration> {
    this.assertOpen();
    assertValidInstance(instance);
    const timing = resolveRegisterOptions(options);
    const writer: RecordWriter = {
      write: async (record, event) => {
        this.assertOpen();
        this.entries(record.instance.service).set(record.instance.id, { record, expiresAt: this.clock.now().getTime() + record.ttlMs });
        this.publish({ type: event, service: record.instance.service, id: record.instance.id, record });
      },
      erase: async (record) => {
        this.entries(record.instance.service).delete(record.instance.id);
        this.publish({ type: 'deregistered', service: record.instance.service, id: record.instance.id, record });
      },
    };
    const registration: HeartbeatRegistration = new HeartbeatRegistration(writer, instance, timing, {
      clock: this.clock,
      scheduler: this.scheduler,
      logger: this.logger,
      onFinished: () => this.registrations.delete(registration),
    });
    this.registrations.add(registration);
    await registration.start();
    return registration;
  }

  async list(service: string): Promise<InstanceRecord[]> {
    this.assertOpen();
    assertServiceName(service);
    const now = this.clock.now();
    const entries = this.entries(service);
    const records: InstanceRecord[] = [];
    for (const [id, entry] of entries) {
      // Lazy expiry, as Redis does on access: an expired record is simply not there.
      if (entry.expiresAt <= now.getTime()) entries.delete(id);
      else records.push(withState(entry.record, now));
    }
    return records.sort((a, b) => (a.instance.id < b.instance.id ? -1 : a.instance.id > b.instance.id ? 1 : 0));
  }

  async watch(service: string, listener: RegistryListener): Promise<() => Promise<void>> {
    this.assertOpen();
    assertServiceName(service);
    let set = this.listeners.get(service);
    if (!set) this.listeners.set(service, (set = new Set()));
    // A wrapper per call, so watching twice with one function gives two independent subscriptions.
    const subscription: RegistryListener = (event) => listener(event);
    set.add(subscription);
    return async () => {
      set.delete(subscription);
    };
  }

  isConnected(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const registration of this.registrations) registration.stop();
    this.registrations.clear();
    this.listeners.clear();
  }

  private entries(service: string): Map<string, Entry> {
    let entries = this.services.get(service);
    if (!entries) this.services.set(service, (entries = new Map()));
    return entries;
  }

  private publish(event: RegistryEvent): void {
    const set = this.listeners.get(event.service);
    if (!set || set.size === 0) return;
    // Deliver after the write has resolved, as a message from a broker would arrive.
    queueMicrotask(() => {
      for (const listener of [...set]) {
        try {
          listener(event);
        } catch (err) {
          this.logger.error({ err, service: event.service, type: event.type }, 'discovery: watch listener threw');
        }
      }
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('registry is closed');
  }
}
