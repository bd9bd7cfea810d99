import { murmur3, utf8 } from './hash.js';

/**
 * Rendezvous (highest random weight) hashing, Thaler & Ravishankar 1996: every node scores the
 * key, the highest score wins. There is no ring to build or keep in memory — each lookup costs
 * O(n) hashes instead of O(log n) — and the movement is exactly minimal: removing a node moves
 * only the keys it won (each to its runner-up), adding one moves only the keys it now wins.
 * Kept beside the ring for comparison: simpler and perfectly balanced in expectation, but linear
 * per lookup, which is fine for tens of nodes and not for thousands.
 */
export interface RendezvousNode {
  readonly id: string;
  /** Relative capacity; weight 2 wins twice as many keys as weight 1. Default 1. */
  readonly weight?: number;
}

/**
 * The score of `node` for `key`. Weighted with the logarithmic method (Schindelhauer & Schomaker):
 * score = -weight / ln(u), u ∈ (0, 1) uniform per (node, key). With equal weights it orders nodes
 * exactly as u does; with unequal weights P(node wins) = weight / Σ weights.
 */
export function rendezvousScore(key: string, node: RendezvousNode): number {
  // Hash the node and the key together (node first, NUL-separated so `a`+`bc` ≠ `ab`+`c`).
  const hash = murmur3(utf8(`${node.id}\u0000${key}`));
  // Map into the open interval (0, 1): ln(0) and ln(1) would give infinite or zero-divisor scores.
  const u = (hash + 0.5) / 0x1_0000_0000;
  return -(node.weight ?? 1) / Math.log(u);
}

/** The winning node for `key`, or undefined when there are none. Ties go to the smaller id. */
export function rendezvousPick<N extends RendezvousNode>(key: string, nodes: readonly N[]): N | undefined {
  let best: N | undefined;
  let bestScore = -Infinity;
  for (const node of nodes) {
    const score = rendezvousScore(key, node);
    if (score > bestScore || (score === bestScore && best !== undefined && node.id < best.id)) {
      best = node;
      bestScore = score;
    }
  }
  return best;
}

/** Nodes ordered best first for `key`: the first `count` are a replica set, later ones fallbacks. */
export function rendezvousRank<N extends RendezvousNode>(key: string, nodes: readonly N[], count = nodes.length): N[] {
  return nodes
    .map((node) => ({ node, score: rendezvousScore(key, node) }))
    .sort((a, b) => b.score - a.score || (a.node.id < b.node.id ? -1 : a.node.id > b.node.id ? 1 : 0))
    .slice(0, Math.max(0, count))
    .map((entry) => entry.node);
}
