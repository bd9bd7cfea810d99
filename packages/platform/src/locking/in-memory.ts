import { performance } from 'node:perf_hooks';
import type { FencingToken } from './lock.js';
import type { LeaseStore } from './lease.js';

interface Lease {
  /** The last token drawn for the name; kept after release so the next holder's is higher. */
  token: FencingToken;
  owner: string | undefined;
  expiresAt: number;
}

/**
 * The lease store of `npm start` (one process, every service in it) and of fast tests. It keeps the
 * Redis store's semantics — expiry by time alone, compare-and-set on owner and token, a counter per
 * name that outlives its holders — so that code proven here behaves the same in the cluster.
 * Every name ever locked keeps one small entry, as it keeps a counter key in Redis.
 */
export class InMemoryLeaseStore implements LeaseStore {
  private readonly leases = new Map<string, Lease>();

  async take(name: string, owner: string, leaseMs: number): Promise<FencingToken | undefined> {
    const now = performance.now();
    const lease = this.leases.get(name);
    if (lease && lease.owner !== undefined && lease.expiresAt > now) return lease.owner === owner ? lease.token : undefined;
    const token = (lease?.token ?? 0n) + 1n;
    this.leases.set(name, { token, owner, expiresAt: now + leaseMs });
    return token;
  }

  async renew(name: string, owner: string, token: FencingToken, leaseMs: number): Promise<boolean> {
    const lease = this.current(name, owner, token);
    if (lease) lease.expiresAt = performance.now() + leaseMs;
    return lease !== undefined;
  }

  async drop(name: string, owner: string, token: FencingToken): Promise<boolean> {
    const lease = this.current(name, owner, token);
    if (lease) lease.owner = undefined;
    return lease !== undefined;
  }

  async close(): Promise<void> {}

  /** The lease of `name` if `owner` holds it with `token` and it has not run out. */
  private current(name: string, owner: string, token: FencingToken): Lease | undefined {
    const lease = this.leases.get(name);
    const held = lease !== undefined && lease.owner === owner && lease.token === token && lease.expiresAt > performance.now();
    return held ? lease : undefined;
  }
}
