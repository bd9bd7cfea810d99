import { DEFAULT_INSTANCE_WEIGHT, type InstanceState } from '../discovery/instance.js';

/**
 * What a balancer chooses among. Deliberately small, so anything with an id can be balanced: a
 * discovery `InstanceView` is one as is (and `pick` hands back the caller's own object, url and all).
 */
export interface Endpoint {
  readonly id: string;
  /**
   * Relative capacity, a positive number; {@link DEFAULT_INSTANCE_WEIGHT} (10) when absent — the
   * same default an instance registers with, so a weight-less endpoint counts as a normal one.
   */
  readonly weight?: number;
  /** From discovery: `down` and `draining` endpoints are never picked. */
  readonly state?: InstanceState;
}

export interface PickContext {
  /** Affinity key for `consistent-hash` (e.g. the user id for cart calls); other strategies ignore it. */
  readonly key?: string;
}

export interface Outcome {
  /** False for a connection error, a timeout or a 5xx: what should count toward ejection. A 4xx is the caller's fault, not the endpoint's. */
  readonly ok: boolean;
  readonly latencyMs: number;
}

/** A source of uniform numbers in [0, 1): `Math.random` in production, seeded in tests. */
export type RandomSource = () => number;

/**
 * mulberry32: a tiny, fast, well-distributed 32-bit generator. Not cryptographic (balancing needs
 * none), but reproducible: a property test that fails prints a seed that fails again.
 */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** An endpoint's weight, checked: a zero, negative or NaN weight is a bug upstream, not a value to guess at. */
export function weightOf(endpoint: Endpoint): number {
  const weight = endpoint.weight ?? DEFAULT_INSTANCE_WEIGHT;
  if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`weight of endpoint ${endpoint.id} must be a positive number, got ${weight}`);
  return weight;
}

/** Whether discovery allows traffic to the endpoint at all (before health and strategy have a say). */
export function isRoutable(endpoint: Endpoint): boolean {
  return endpoint.state !== 'down' && endpoint.state !== 'draining';
}
