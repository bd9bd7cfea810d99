import { systemClock, type Clock } from '@agora/kernel';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { FailureDetector, type StateTransition, type TransitionListener } from './failure-detector.js';
import { assertServiceName, isNewer, type InstanceState, type ServiceInstance, type StoredRecord } from './instance.js';
import { DISCOVERY_DEFAULTS, type Registry, type RegistryEvent } from './registry.js';
import { systemScheduler, type Scheduler, type TimerHandle } from './scheduler.js';

/**
 * An instance a client may send requests to. It is a {@link ServiceInstance} plus its state, so it
 * can be handed to a balancer as is (it has the `id`, `weight` and `state` an Endpoint needs).
 */
export interface InstanceView extends ServiceInstance {
  readonly state: Extract<InstanceState, 'up' | 'suspect'>;
}

export type InstancesListener = (instances: readonly InstanceView[]) => void;

export interface InstanceWatcherOptions {
  registry: Registry;
  service: string;
  logger?: Logger;
  clock?: Clock;
  scheduler?: Scheduler;
  /** Fallback for lost pub/sub messages and the way expired records are noticed. */
  relistIntervalMs?: number;
  /** How often silence is re-judged; adds at most this much to the detection time. */
  detectorTickMs?: number;
  /** A re-list unanswered this long counts as an unreachable registry. */
  relistTimeoutMs?: number;
}

/**
 * A client's live view of one service: who is there and who may take requests.
 *
 * Three sources feed it, because none is enough alone:
 * 1. an initial list — the state of the world when the client starts;
 * 2. watch events — changes within a round trip, but lossy (pub/sub forgets what it sent while a
 *    connection was down) and silent about expiry (a Redis key that times out publishes nothing);
 * 3. a periodic re-list — catches whatever 2 missed, and is how expired records drop out.
 * A {@link FailureDetector} turns the heartbeats seen through 2 and 3 into up/suspect/down, so a
 * killed instance leaves the view after a TTL of silence even before its record expires.
 *
 * When the registry is unreachable the view is kept as it was — the last known instances are a far
 * better guess than none, and the balancer's outlier ejection copes with the ones that really died.
 */
export class InstanceWatcher {
  readonly service: string;
  private readonly registry: Registry;
  private readonly logger: Logger;
  private readonly scheduler: Scheduler;
  private readonly relistIntervalMs: number;
  private readonly detectorTickMs: number;
  private readonly relistTimeoutMs: number;
  private readonly detector: FailureDetector;
  private readonly changeListeners = new Set<InstancesListener>();
  private readonly transitionListeners = new Set<TransitionListener>();
  /**
   * Ordering of observations. A re-list is a snapshot taken when it *started*; an instance seen in a
   * watch event after that may be missing from the snapshot only because it is newer than it, so
   * absence from a re-list removes only what was last seen before the re-list began.
   */
  private sequence = 0;
  private readonly observedAt = new Map<string, number>();
  /**
   * Instances that deregistered, with their last record: a re-list already in flight may still
   * contain them and must not bring them back. A later incarnation (newer startedAt) is accepted.
   */
  private readonly tombstones = new Map<string, { record: StoredRecord; sequence: number }>();
  private view: readonly InstanceView[] = Object.freeze([]);
  private viewSignature = '';
  private timers: TimerHandle[] = [];
  private unwatch: (() => Promise<void>) | undefined;
  private relisting: Promise<boolean> | undefined;
  /** When the re-list in flight started (clock ms): one that takes too long means trouble. */
  private relistStartedAt = 0;
  private readonly clock: Clock;
  private reachable = true;
  private closed = false;

  private constructor(options: InstanceWatcherOptions) {
    assertServiceName(options.service);
    this.service = options.service;
    this.registry = options.registry;
    this.logger = options.logger ?? createLogger('discovery');
    this.scheduler = options.scheduler ?? systemScheduler;
    this.relistIntervalMs = options.relistIntervalMs ?? DISCOVERY_DEFAULTS.relistIntervalMs;
    this.detectorTickMs = options.detectorTickMs ?? DISCOVERY_DEFAULTS.detectorTickMs;
    this.relistTimeoutMs = options.relistTimeoutMs ?? DISCOVERY_DEFAULTS.relistTimeoutMs;
    this.clock = options.clock ?? systemClock;
    this.detector = new FailureDetector(options.service, this.clock);
    this.detector.onTransition((transition) => this.onDetectorTransition(transition));
  }

  /**
   * Subscribes, lists, then starts the timers. Subscribing first means no change can fall in a gap
   * between the list and the subscription. Throws when the registry cannot be listed at start.
   */
  static async start(options: InstanceWatcherOptions): Promise<InstanceWatcher> {
    const watcher = new InstanceWatcher(options);
    try {
      watcher.unwatch = await watcher.registry.watch(watcher.service, (event) => watcher.onEvent(event));
      const records = await watcher.registry.list(watcher.service);
      watcher.applyList(records, 0);
    } catch (err) {
      await watcher.close();
      throw err;
    }
    watcher.timers.push(
      watcher.scheduler.setInterval(() => void watcher.relist(), watcher.relistIntervalMs),
      watcher.scheduler.setInterval(() => watcher.evaluate(), watcher.detectorTickMs),
    );
    return watcher;
  }

  /** Instances that may take requests (up or suspect; never down or draining), sorted by id. The array is frozen and replaced, never mutated. */
  instances(): readonly InstanceView[] {
    return this.view;
  }

  /** Every instance this client tracks, with its state — including draining and down ones. For admin views and tests. */
  states(): { instance: ServiceInstance; state: InstanceState; lastSeenAt: Date }[] {
    return this.detector
      .entries()
      .map((e) => ({ instance: e.record.instance, state: e.state, lastSeenAt: e.lastSeenAt }))
      .sort((a, b) => (a.instance.id < b.instance.id ? -1 : 1));
  }

  /** False from the moment the registry looks unreachable (disconnected, a re-list failed or hangs) until a re-list succeeds. */
  get registryReachable(): boolean {
    return this.reachable;
  }

  /** Called with the new list whenever the set of usable instances (or one's state) changes. */
  onChange(listener: InstancesListener): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Called on every state change of every instance (`silenceMs` of a `down` is its detection time bound). */
  onTransition(listener: TransitionListener): () => void {
    this.transitionListeners.add(listener);
    return () => this.transitionListeners.delete(listener);
  }

  /** Lists the service now (the timer does it every interval). Resolves false when the registry did not answer. */
  relist(): Promise<boolean> {
    // One at a time: a slow registry must not accumulate overlapping lists.
    if (!this.relisting) {
      this.relistStartedAt = this.clock.now().getTime();
      this.relisting = this.doRelist().finally(() => {
        this.relisting = undefined;
      });
    }
    return this.relisting;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) timer.cancel();
    this.timers = [];
    const unwatch = this.unwatch;
    this.unwatch = undefined;
    this.changeListeners.clear();
    this.transitionListeners.clear();
    if (!unwatch) return;
    try {
      await unwatch();
    } catch (err) {
      this.logger.warn({ err, service: this.service }, 'discovery: could not unsubscribe while closing the watcher');
    }
  }

  private async doRelist(): Promise<boolean> {
    if (this.closed) return false;
    // Known to be disconnected: do not queue a list behind the reconnect, just keep holding.
    if (!this.registry.isConnected()) {
      this.markUnreachable(new Error('registry is not connected'));
      return false;
    }
    const startedAt = this.sequence;
    let records: StoredRecord[];
    try {
      records = await this.registry.list(this.service);
    } catch (err) {
      this.markUnreachable(err);
      return false;
    }
    if (this.closed) return false;
    this.applyList(records, startedAt);
    if (!this.reachable) {
      this.reachable = true;
      this.logger.info({ service: this.service }, 'discovery: registry reachable again');
    }
    this.detector.resume();
    this.refreshView();
    return true;
  }

  private applyList(records: readonly StoredRecord[], startedAt: number): void {
    const present = new Set<string>();
    for (const record of records) {
      present.add(record.instance.id);
      this.accept(record, startedAt);
    }
    for (const { record } of this.detector.entries()) {
      const id = record.instance.id;
      if (present.has(id) || (this.observedAt.get(id) ?? 0) > startedAt) continue;
      this.observedAt.delete(id);
      this.detector.forget(id, 'expired');
    }
    for (const [id, tombstone] of this.tombstones) {
      // Once a re-list begun after the deregistration no longer shows the record, nothing can revive it.
      if (!present.has(id) && tombstone.sequence <= startedAt) this.tombstones.delete(id);
    }
    this.refreshView();
  }

  private onEvent(event: RegistryEvent): void {
    if (this.closed) return;
    this.sequence++;
    if (event.type === 'deregistered') {
      this.tombstones.set(event.id, { record: event.record, sequence: this.sequence });
      this.observedAt.delete(event.id);
      this.detector.forget(event.id, 'deregistered');
    } else {
      this.accept(event.record, this.sequence);
    }
    this.refreshView();
  }

  private accept(record: StoredRecord, sequence: number): void {
    const id = record.instance.id;
    const tombstone = this.tombstones.get(id);
    if (tombstone) {
      if (!isNewer(record, tombstone.record)) return;
      this.tombstones.delete(id);
    }
    if (this.detector.observe(record)) this.observedAt.set(id, sequence);
  }

  private evaluate(): void {
    if (this.closed) return;
    // Check the registry before judging silence: when it is gone, no heartbeat can reach us, and
    // waiting for a re-list to fail first (up to an interval plus a command timeout) could take
    // longer than a TTL — long enough to wrongly declare every instance down.
    if (!this.registry.isConnected()) this.markUnreachable(new Error('registry is not connected'));
    else if (this.relisting && this.clock.now().getTime() - this.relistStartedAt >= this.relistTimeoutMs) {
      this.markUnreachable(new Error(`a re-list has been waiting for ${this.relistTimeoutMs} ms or more`));
    }
    this.detector.evaluate();
    this.refreshView();
  }

  /** Keeps the view as it is and stops reading silence as death, until a re-list succeeds. */
  private markUnreachable(err: unknown): void {
    if (this.reachable) this.logger.warn({ err, service: this.service }, 'discovery: registry unreachable; keeping the last known instances');
    this.reachable = false;
    this.detector.hold();
  }

  private onDetectorTransition(transition: StateTransition): void {
    const fields = { service: transition.service, id: transition.id, from: transition.from, to: transition.to, reason: transition.reason, silenceMs: transition.silenceMs };
    if (transition.to === 'down') this.logger.warn(fields, 'discovery: instance down');
    else if (transition.from === 'down' || transition.from === undefined) this.logger.info(fields, 'discovery: instance up');
    else this.logger.debug(fields, 'discovery: instance state changed');
    for (const listener of [...this.transitionListeners]) this.safely(() => listener(transition));
  }

  /** Rebuilds the usable list and tells listeners only when it really changed. */
  private refreshView(): void {
    const usable: InstanceView[] = [];
    for (const { record, state } of this.detector.entries()) {
      if (state === 'up' || state === 'suspect') usable.push(Object.freeze({ ...record.instance, state }));
    }
    usable.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const signature = JSON.stringify(usable.map((v) => [v.id, v.state, v.url, v.weight, v.zone, v.version, v.startedAt]));
    if (signature === this.viewSignature) return;
    this.viewSignature = signature;
    this.view = Object.freeze(usable);
    for (const listener of [...this.changeListeners]) this.safely(() => listener(this.view));
  }

  private safely(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.logger.error({ err, service: this.service }, 'discovery: watcher listener threw');
    }
  }
}
