import { HashRing } from '../hashing/ring.js';
import { DEFAULT_INSTANCE_WEIGHT } from '../discovery/instance.js';
import { weightOf, type Endpoint, type PickContext, type RandomSource } from './endpoint.js';

/** How many requests each endpoint has in flight from this client. */
export interface LoadView {
  outstanding(id: string): number;
}

/**
 * One strategy: chooses among `eligible` (routable and not ejected, never empty). `routable` is the
 * larger set before ejection, for strategies whose layout must not change when an endpoint is only
 * briefly out (consistent hash).
 */
export interface Selector {
  select<E extends Endpoint>(eligible: readonly E[], context: PickContext, routable: readonly E[]): E;
}

/**
 * Round-robin: each endpoint in turn. Fair by count, blind to load and weight. The starting point
 * is random so that many clients started together do not all hit the first endpoint first.
 */
export class RoundRobinSelector implements Selector {
  private next: number;

  constructor(random: RandomSource) {
    this.next = Math.floor(random() * 0x8000_0000);
  }

  select<E extends Endpoint>(eligible: readonly E[]): E {
    const endpoint = eligible[this.next % eligible.length]!;
    this.next = (this.next + 1) % Number.MAX_SAFE_INTEGER;
    return endpoint;
  }
}

/** Random, proportional to weight. Stateless, so it needs no coordination and has no pattern to resonate with. */
export class RandomSelector implements Selector {
  constructor(private readonly random: RandomSource) {}

  select<E extends Endpoint>(eligible: readonly E[]): E {
    let total = 0;
    for (const endpoint of eligible) total += weightOf(endpoint);
    let point = this.random() * total;
    for (const endpoint of eligible) {
      point -= weightOf(endpoint);
      if (point < 0) return endpoint;
    }
    // Only reachable through floating-point rounding at the very top of the range.
    return eligible[eligible.length - 1]!;
  }
}

/**
 * nginx's smooth weighted round-robin (ngx_http_upstream_round_robin.c, 2012):
 *   every pick, each endpoint's `current` grows by its weight; the largest `current` wins and
 *   pays back the total weight.
 * Over a cycle of Σweights picks each endpoint is chosen exactly `weight` times, like classic
 * weighted round-robin — but interleaved: weights {a:5, b:1, c:1} give `a a b a c a a`, not
 * `a a a a a b c`, so a heavy endpoint never receives a burst. (The sum of all `current`s stays 0,
 * which is what bounds every endpoint's lead or lag to about one pick.)
 *
 * nginx also lowers an endpoint's effective weight after failures; here failures are the
 * HealthTracker's business, so the effective weight is the configured weight.
 */
export class SmoothWeightedSelector implements Selector {
  private readonly current = new Map<string, { value: number; round: number }>();
  private round = 0;

  select<E extends Endpoint>(eligible: readonly E[]): E {
    this.round++;
    let total = 0;
    let best: E | undefined;
    let bestEntry: { value: number; round: number } | undefined;
    for (const endpoint of eligible) {
      const weight = weightOf(endpoint);
      let entry = this.current.get(endpoint.id);
      if (!entry) this.current.set(endpoint.id, (entry = { value: 0, round: 0 }));
      entry.value += weight;
      entry.round = this.round;
      total += weight;
      // Strictly greater: ties go to the earlier endpoint, as in nginx.
      if (!bestEntry || entry.value > bestEntry.value) {
        best = endpoint;
        bestEntry = entry;
      }
    }
    bestEntry!.value -= total;
    // An endpoint that left (ejected, gone) is forgotten and rejoins at 0 like a new one; keeping
    // its old `current` would hand it a burst or a drought when it returns.
    if (this.current.size > eligible.length) {
      for (const [id, entry] of this.current) if (entry.round !== this.round) this.current.delete(id);
    }
    return best!;
  }
}

/**
 * The load an endpoint would carry with one more request, relative to its capacity. The +1 is what
 * makes weights matter at zero load: an idle endpoint of weight 20 (score 1/20) beats an idle one of
 * weight 10 (1/10), and it keeps winning until it carries twice as many.
 */
function score(load: LoadView, endpoint: Endpoint): number {
  return (load.outstanding(endpoint.id) + 1) / weightOf(endpoint);
}

/**
 * Least outstanding requests (least connections): the endpoint with the lowest score. Reacts to a
 * slow endpoint at once — its requests pile up, so it stops being chosen. Ties are broken at random,
 * not by position, or every client would pile onto the first endpoint whenever all are idle.
 */
export class LeastOutstandingSelector implements Selector {
  constructor(
    private readonly load: LoadView,
    private readonly random: RandomSource,
  ) {}

  select<E extends Endpoint>(eligible: readonly E[]): E {
    let best = eligible[0]!;
    let bestScore = score(this.load, best);
    let ties = 1;
    for (let i = 1; i < eligible.length; i++) {
      const endpoint = eligible[i]!;
      const s = score(this.load, endpoint);
      if (s < bestScore) {
        best = endpoint;
        bestScore = s;
        ties = 1;
      } else if (s === bestScore) {
        // Reservoir sampling: each of the k tied endpoints ends up chosen with probability 1/k.
        ties++;
        if (this.random() * ties < 1) best = endpoint;
      }
    }
    return best;
  }
}

/**
 * Power of two choices (Mitzenmacher 2001): sample two distinct endpoints at random, send to the
 * less loaded. Almost as good as least-outstanding at avoiding a slow endpoint (the maximum load
 * drops from log n / log log n to log log n), but O(1) per pick and — the point in a fleet of
 * clients each with its own partial view — no herding: clients do not all rush to the one
 * endpoint that looks idlest, because each only compares two random ones.
 */
export class PowerOfTwoChoicesSelector implements Selector {
  constructor(
    private readonly load: LoadView,
    private readonly random: RandomSource,
  ) {}

  select<E extends Endpoint>(eligible: readonly E[]): E {
    if (eligible.length === 1) return eligible[0]!;
    const i = Math.floor(this.random() * eligible.length);
    // A second, distinct index: draw among the n-1 others and skip over i.
    let j = Math.floor(this.random() * (eligible.length - 1));
    if (j >= i) j++;
    const a = eligible[i]!;
    const b = eligible[j]!;
    const sa = score(this.load, a);
    const sb = score(this.load, b);
    if (sa !== sb) return sa < sb ? a : b;
    return this.random() < 0.5 ? a : b;
  }
}

/**
 * Consistent-hash affinity: the same key goes to the same endpoint (a user's cart calls to the
 * instance that has the cart warm in cache), and when endpoints come and go only ~1/n of the keys
 * move. The ring holds every routable endpoint; an ejected one keeps its place, and its keys fall
 * through to the next endpoint clockwise until it returns — then they come back to it.
 * A call without a key has no affinity to keep and is balanced by power of two choices.
 */
export class ConsistentHashSelector implements Selector {
  private ring = new HashRing<string>();
  private ringFor: readonly Endpoint[] | undefined;
  private ringSignature = '';
  private lastMembers: { id: string; weight: number }[] = [];
  private readonly fallback: PowerOfTwoChoicesSelector;

  constructor(
    load: LoadView,
    random: RandomSource,
    private readonly virtualNodes?: number,
  ) {
    this.fallback = new PowerOfTwoChoicesSelector(load, random);
  }

  select<E extends Endpoint>(eligible: readonly E[], context: PickContext, routable: readonly E[]): E {
    if (context.key === undefined) return this.fallback.select(eligible);
    this.syncRing(routable);
    const byId = new Map<string, E>();
    for (const endpoint of eligible) byId.set(endpoint.id, endpoint);
    for (const member of this.ring.walk(context.key)) {
      const endpoint = byId.get(member.id);
      if (endpoint) return endpoint;
    }
    // Unreachable: every eligible endpoint is routable, hence on the ring.
    return eligible[0]!;
  }

  /**
   * Rebuilds the ring only when the set of (id, weight) changed, not on every pick. The usual case
   * — the same endpoints as last time, in the same order — is one pass with no allocation; a frozen
   * array seen before (what InstanceWatcher hands out until something changes) skips even that.
   */
  private syncRing(routable: readonly Endpoint[]): void {
    if (routable === this.ringFor && Object.isFrozen(routable)) return;
    if (this.sameAsLast(routable)) {
      this.ringFor = routable;
      return;
    }
    this.ringFor = routable;
    this.lastMembers = routable.map((e) => ({ id: e.id, weight: weightOf(e) }));
    // Order-insensitive identity of the set: the same endpoints listed differently keep the ring.
    const signature = JSON.stringify([...this.lastMembers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((m) => [m.id, m.weight]));
    if (signature === this.ringSignature) return;
    this.ringSignature = signature;
    const ring = new HashRing<string>(this.virtualNodes === undefined ? {} : { virtualNodes: this.virtualNodes });
    // An endpoint of the default weight gets the ring's default number of points.
    for (const { id, weight } of this.lastMembers) ring.add(id, id, weight / DEFAULT_INSTANCE_WEIGHT);
    this.ring = ring;
  }

  private sameAsLast(routable: readonly Endpoint[]): boolean {
    if (routable.length !== this.lastMembers.length) return false;
    for (let i = 0; i < routable.length; i++) {
      const endpoint = routable[i]!;
      const last = this.lastMembers[i]!;
      if (endpoint.id !== last.id || weightOf(endpoint) !== last.weight) return false;
    }
    return true;
  }
}
