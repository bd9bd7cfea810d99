import { ConfigError, type EnvReader } from '@agora/kernel';

/**
 * A shard map: which shards a service's keys live on and how a key picks one. It is versioned and
 * stored (map-store.ts); every instance routes by the latest version it has read, and a change
 * (a shard added or removed, a weight or an interval changed) is a new version, written only by a
 * move that has already put every key where the new version says (mover.ts).
 */
export interface ShardMap {
  readonly service: string;
  /** 1, 2, 3, ...: increases by one per change. */
  readonly version: number;
  readonly strategy: ShardStrategyName;
  readonly members: readonly ShardMember[];
}

export type ShardStrategyName = 'hash' | 'range';

/** One shard in a map. */
export interface ShardMember {
  /** Stable name: `s0`, `s1`, ... It never changes while the shard exists, whatever its URL. */
  readonly id: string;
  /** The database: a PostgreSQL URL, or null for the service's main database (all `npm start` has). */
  readonly url: string | null;
  /** hash: relative share of the keys (virtual nodes × weight on the ring). */
  readonly weight?: number;
  /**
   * range: the keys this shard owns, `[from, to)` in string order; `from` '' is the start of the
   * key space and `to` null its end. The intervals of a map cover the key space without overlap.
   */
  readonly range?: { readonly from: string; readonly to: string | null };
}

export const SHARD_MAP_LIMITS = {
  /** Shards per service: past this, a fan-out (admin lists, recovery) asks too many databases per request. */
  members: 64,
  /** A weight above this would put millions of points on the ring. */
  weightMax: 100,
} as const;

const SHARD_ID = /^s[0-9]{1,3}$/;

function fail(message: string): never {
  throw new RangeError(`shard map: ${message}`);
}

/**
 * Throws a RangeError naming the fault unless the map can route: ids unique and well formed, URLs
 * distinct, weights (hash) in range, intervals (range) covering the key space without overlap.
 */
export function assertValidMap(map: ShardMap): void {
  if (!Number.isSafeInteger(map.version) || map.version < 1) fail(`version must be a positive integer, got ${map.version}`);
  if (map.members.length < 1 || map.members.length > SHARD_MAP_LIMITS.members) fail(`must have 1..${SHARD_MAP_LIMITS.members} members, got ${map.members.length}`);
  const ids = new Set<string>();
  const urls = new Set<string>();
  for (const member of map.members) {
    if (!SHARD_ID.test(member.id)) fail(`member id must look like s0, s1, ..., got "${member.id}"`);
    if (ids.has(member.id)) fail(`member ${member.id} appears twice`);
    ids.add(member.id);
    const url = member.url ?? '(main database)';
    if (urls.has(url)) fail(`two members share the database ${redactUrl(url)}`);
    urls.add(url);
    if (map.strategy === 'hash') {
      const weight = member.weight ?? 1;
      if (!(weight > 0 && weight <= SHARD_MAP_LIMITS.weightMax)) fail(`weight of ${member.id} must be in (0, ${SHARD_MAP_LIMITS.weightMax}], got ${weight}`);
    }
  }
  if (map.strategy === 'range') assertIntervals(map.members);
}

/** Sorted by `from`, the intervals must start at '', each end where the next begins, and the last be open-ended. */
function assertIntervals(members: readonly ShardMember[]): void {
  const sorted = [...members].sort((a, b) => compareKeys(a.range?.from ?? '', b.range?.from ?? ''));
  let expectedFrom = '';
  sorted.forEach((member, index) => {
    const range = member.range ?? fail(`range member ${member.id} has no interval`);
    if (range.from !== expectedFrom) fail(`interval of ${member.id} starts at "${range.from}", expected "${expectedFrom}" (a gap or an overlap)`);
    const last = index === sorted.length - 1;
    if (last && range.to !== null) fail(`the last interval (${member.id}) must be open-ended, ends at "${range.to}"`);
    if (!last && (range.to === null || compareKeys(range.to, range.from) <= 0)) fail(`interval of ${member.id} is empty or open-ended before the last`);
    expectedFrom = range.to ?? '';
  });
}

/** Plain code-unit order: the same in every process (no locale). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A URL with its password replaced, for logs, errors and `agora shards list`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** The variable listing a service's shard databases: `ORDER_SHARDS`, `CART_SHARDS`. */
export function shardsVariable(service: string): string {
  return `${service.toUpperCase()}_SHARDS`;
}

/**
 * `<SERVICE>_SHARDS`: comma-separated PostgreSQL URLs, one per shard, in shard-id order (s0, s1,
 * ...). Unset: one shard, the service's main database. It seeds the first stored map only; after
 * that the stored map is the truth (`agora shards add|remove` change it online).
 */
export function parseShardUrls(env: EnvReader, service: string): string[] | undefined {
  const variable = shardsVariable(service);
  const raw = env.string(variable);
  if (raw === undefined) return undefined;
  const urls = raw.split(',').map((part) => part.trim());
  if (urls.some((url) => url.length === 0)) throw new ConfigError(variable, 'has an empty entry (comma-separated PostgreSQL URLs)');
  if (urls.length > SHARD_MAP_LIMITS.members) throw new ConfigError(variable, `lists ${urls.length} databases; at most ${SHARD_MAP_LIMITS.members}`);
  const seen = new Set<string>();
  urls.forEach((url, index) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(variable, `entry ${index + 1} is not a URL`);
    }
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') throw new ConfigError(variable, `entry ${index + 1} must be a postgres:// URL, got ${parsed.protocol}`);
    if (parsed.pathname.length <= 1) throw new ConfigError(variable, `entry ${index + 1} (${redactUrl(url)}) names no database`);
    if (seen.has(url)) throw new ConfigError(variable, `lists ${redactUrl(url)} twice`);
    seen.add(url);
  });
  return urls;
}

/** The first map of a service: its main database alone, or the databases `<SERVICE>_SHARDS` lists. */
export function initialMap(service: string, urls: readonly string[] | undefined, strategy: ShardStrategyName = 'hash'): ShardMap {
  const list: (string | null)[] = urls && urls.length > 0 ? [...urls] : [null];
  const members = list.map((url, index) => ({ id: `s${index}`, url, weight: 1 }));
  return { service, version: 1, strategy, members: strategy === 'range' ? evenRanges(members) : members };
}

/** Splits the key space of lowercase-hex keys (UUIDs) into equal first-character intervals. */
export function evenRanges(members: readonly ShardMember[]): ShardMember[] {
  const digits = '0123456789abcdef';
  return members.map((member, index) => {
    const from = index === 0 ? '' : digits[Math.floor((index * digits.length) / members.length)]!;
    const to = index === members.length - 1 ? null : digits[Math.floor(((index + 1) * digits.length) / members.length)]!;
    return { id: member.id, url: member.url, range: { from, to } };
  });
}

/** The next free shard id of a map. */
export function nextShardId(map: ShardMap): string {
  const used = new Set(map.members.map((m) => m.id));
  for (let n = 0; n < SHARD_MAP_LIMITS.members; n++) if (!used.has(`s${n}`)) return `s${n}`;
  return fail(`no free shard id: a map holds at most ${SHARD_MAP_LIMITS.members} members`);
}
