import type { Clock } from '@agora/kernel';
import { SUSPECT_AFTER_INTERVALS, isNewer, type InstanceState, type StoredRecord } from './instance.js';

/** Why an instance changed state. */
export type TransitionReason =
  /** First seen. */
  | 'discovered'
  /** A newer heartbeat arrived (a suspect or down instance came back). */
  | 'heartbeat'
  /** No newer heartbeat for 1.5 intervals (→ suspect) or a whole TTL (→ down). */
  | 'silence'
  /** The record is gone from the registry: its TTL ran out. */
  | 'expired'
  /** The instance removed itself. */
  | 'deregistered'
  /** The instance asked to drain, or stopped draining. */
  | 'draining';

export interface StateTransition {
  readonly service: string;
  readonly id: string;
  readonly from: InstanceState | undefined;
  readonly to: InstanceState;
  readonly at: Date;
  readonly reason: TransitionReason;
  /**
   * Time since this client last saw a new heartbeat from the instance. For a transition to `down`
   * it bounds the detection time from above: the instance died after that heartbeat, so it was
   * detected at most this long after it died. This is the number to compare with the 3 s target.
   */
  readonly silenceMs: number;
}

export type TransitionListener = (transition: StateTransition) => void;

interface Tracked {
  record: StoredRecord;
  /** When *this* client last saw the heartbeat counter go up, by its own clock. */
  lastSeenAt: number;
  state: InstanceState;
}

/**
 * Turns heartbeats into states.
 *
 * The age of an instance is measured from when this client *observed* a new heartbeat counter, by
 * this client's clock — not from the `lastHeartbeatAt` timestamp inside the record. Comparing a
 * timestamp written on another host with our own clock would make an instance look dead (or
 * immortal) whenever the two clocks disagree by more than the TTL; arrival times on one clock
 * cannot disagree with themselves. (Cassandra's gossip and the φ-accrual detector work the same way.)
 *
 * Rules, with the instance's own interval and TTL:
 *   age < 1.5 × interval → up;  age < ttl → suspect;  age ≥ ttl or record gone → down;
 *   a draining record is `draining` until it too falls silent for a TTL.
 *
 * While the registry itself is unreachable (`hold`), silence proves nothing — no heartbeat can
 * reach us — so nothing is moved to `down`, and on `resume` the time spent holding is taken off
 * every instance's silence: what an instance was silent before the outage still counts, the
 * outage itself does not. (A false alarm — a list that was merely slow — so costs detection only
 * as long as it lasted.)
 */
export class FailureDetector {
  private readonly tracked = new Map<string, Tracked>();
  private readonly listeners = new Set<TransitionListener>();
  private held = false;
  private heldSince = 0;

  constructor(
    private readonly service: string,
    private readonly clock: Clock,
  ) {}

  /**
   * Takes in a record read from a list or a watch event. Returns true when it is newer than what
   * was known (then it counts as a heartbeat); an older or equal record — a re-list overtaken by a
   * pub/sub message, a duplicate — is ignored.
   */
  observe(record: StoredRecord): boolean {
    const current = this.tracked.get(record.instance.id);
    if (current && !isNewer(record, current.record)) return false;
    const now = this.clock.now().getTime();
    if (!current) {
      const tracked: Tracked = { record, lastSeenAt: now, state: 'up' };
      tracked.state = this.stateOf(tracked, now);
      this.tracked.set(record.instance.id, tracked);
      this.emit(record.instance.id, undefined, tracked.state, 'discovered', 0);
      return true;
    }
    const silenceMs = now - current.lastSeenAt;
    const wasDraining = current.record.draining;
    current.record = record;
    current.lastSeenAt = now;
    const next = this.stateOf(current, now);
    if (next !== current.state) {
      const from = current.state;
      current.state = next;
      this.emit(record.instance.id, from, next, wasDraining !== record.draining ? 'draining' : 'heartbeat', silenceMs);
    }
    return true;
  }

  /** The record is gone (expired or deregistered): the instance is down and no longer tracked. */
  forget(id: string, reason: 'expired' | 'deregistered'): void {
    const current = this.tracked.get(id);
    if (!current) return;
    this.tracked.delete(id);
    if (current.state !== 'down') this.emit(id, current.state, 'down', reason, this.clock.now().getTime() - current.lastSeenAt);
  }

  /** Re-judges every instance by its age; call it on a timer (ages grow without any event). */
  evaluate(): void {
    const now = this.clock.now().getTime();
    for (const [id, tracked] of this.tracked) {
      const next = this.stateOf(tracked, now);
      if (next === tracked.state) continue;
      const from = tracked.state;
      tracked.state = next;
      this.emit(id, from, next, 'silence', now - tracked.lastSeenAt);
    }
  }

  /** The registry is unreachable: stop concluding anything from silence. */
  hold(): void {
    if (this.held) return;
    this.held = true;
    this.heldSince = this.clock.now().getTime();
  }

  /** The registry answers again: take the time held off every instance's silence, then judge as usual. */
  resume(): void {
    if (!this.held) return;
    this.held = false;
    const now = this.clock.now().getTime();
    const heldFor = now - this.heldSince;
    for (const tracked of this.tracked.values()) tracked.lastSeenAt = Math.min(now, tracked.lastSeenAt + heldFor);
    this.evaluate();
  }

  get holding(): boolean {
    return this.held;
  }

  state(id: string): InstanceState | undefined {
    return this.tracked.get(id)?.state;
  }

  record(id: string): StoredRecord | undefined {
    return this.tracked.get(id)?.record;
  }

  /** Every tracked instance with its state, including down ones whose record has not vanished yet. */
  entries(): { record: StoredRecord; state: InstanceState; lastSeenAt: Date }[] {
    return [...this.tracked.values()].map((t) => ({ record: t.record, state: t.state, lastSeenAt: new Date(t.lastSeenAt) }));
  }

  onTransition(listener: TransitionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private stateOf(tracked: Tracked, now: number): InstanceState {
    const age = now - tracked.lastSeenAt;
    const { ttlMs, heartbeatIntervalMs, draining } = tracked.record;
    if (age >= ttlMs) return this.held ? (tracked.state === 'down' ? 'down' : draining ? 'draining' : 'suspect') : 'down';
    if (draining) return 'draining';
    return age < heartbeatIntervalMs * SUSPECT_AFTER_INTERVALS ? 'up' : 'suspect';
  }

  private emit(id: string, from: InstanceState | undefined, to: InstanceState, reason: TransitionReason, silenceMs: number): void {
    const transition: StateTransition = { service: this.service, id, from, to, at: this.clock.now(), reason, silenceMs };
    for (const listener of [...this.listeners]) listener(transition);
  }
}
