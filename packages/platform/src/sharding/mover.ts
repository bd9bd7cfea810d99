import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../telemetry/logger.js';
import type { Storage } from '../storage/storage.js';
import { copyKeys, deleteKeys } from './copy.js';
import { freezeKeys, installGuards, reopenShard, setMarkers, type ShardedData } from './fence.js';
import { assertValidMap, type ShardMap, type ShardMember } from './map.js';
import type { ShardMapStore, StoredShardMap } from './map-store.js';
import { SHARD_ROUTER_DEFAULTS } from './map-router.js';
import { strategyOf } from './strategy.js';

export const MOVE_LIMITS = {
  /** How long frozen keys may wait for their running work (sagas, unpublished facts) before the move is abandoned. */
  quiesceMs: 15_000,
  /** Pause between looks at that work. */
  quiescePollMs: 50,
  /** How long a freeze waits for writers holding the guarded tables. */
  lockTimeoutMs: 3_000,
  /** After the switch: every instance re-reads the map within a poll interval; the old copies go after three. */
  graceMs: 3 * SHARD_ROUTER_DEFAULTS.pollIntervalMs,
} as const;

export type MoveLimits = Record<keyof typeof MOVE_LIMITS, number>;

/** A move from one map version to the next, as it ran. */
export interface MoveReport {
  service: string;
  fromVersion: number;
  toVersion: number;
  /** Keys per route `source→target`. */
  routes: Record<string, number>;
  movedKeys: number;
  copiedRows: number;
  /** How long the moved keys were frozen (new work on them waited). */
  frozenMs: number;
  durationMs: number;
}

export interface MoveOptions {
  store: ShardMapStore;
  data: ShardedData;
  /** The newest stored map; the move writes `target` as its next version. */
  from: StoredShardMap;
  target: Omit<ShardMap, 'version' | 'service'>;
  /** The storage of a member (opened, migrated); the mover never closes them. */
  storageOf: (member: ShardMember) => Promise<Storage>;
  /** Fencing token of the lock this move holds: the map write refuses it when a newer move wrote. */
  fence: bigint;
  logger: Logger;
  limits?: Partial<MoveLimits>;
  /** Phases as they begin (for the CLI's progress lines and the tests). */
  onPhase?: (phase: MovePhase, detail: Record<string, unknown>) => void | Promise<void>;
}

/** A phase as it begins; `catch-up` begins with the moving keys frozen (a test may act on them then). */
export type MovePhase = 'copy' | 'freeze' | 'catch-up' | 'switch' | 'clean-up';

type Routes = Map<string, Map<string, string[]>>;

/**
 * Moves a service's keys to a new map online, exactly the keys whose owner changes:
 * 1. copy: every key a shard holds but the new map gives to another shard is copied there, while
 *    writes go on (not a key with running work: its copy would hold a saga another shard could run);
 * 2. freeze: on each source, in one transaction, those keys (listed again: new ones count) are
 *    frozen and the shard is closed to unknown keys (fence.ts); new work of a frozen key waits;
 * 3. the work already running for them finishes (bounded: `quiesceMs`, else the move is undone);
 * 4. catch-up: the frozen keys are copied again, with every write made since;
 * 5. switch: the sources mark them moved (every write refused there), the new map version is
 *    written (fenced), the targets drop old `moved` markers of keys that arrive;
 * 6. after `graceMs` (every instance has re-read the map) the sources reopen and their copies go.
 */
export async function moveKeys(options: MoveOptions): Promise<MoveReport> {
  const limits: MoveLimits = { ...MOVE_LIMITS, ...options.limits };
  const { data, from, logger } = options;
  const started = Date.now();
  const to: ShardMap = { ...options.target, service: from.service, version: from.version + 1 };
  assertValidMap(to);
  const newOwner = strategyOf(to);
  const members = new Map<string, ShardMember>();
  for (const m of [...from.members, ...to.members]) members.set(m.id, m);
  const storages = new Map<string, Storage>();
  for (const member of members.values()) {
    const storage = await options.storageOf(member);
    await installGuards(storage, data);
    storages.set(member.id, storage);
  }
  const storage = (id: string): Storage => storages.get(id) ?? fail(`no storage for shard ${id}`);
  const leaving = (source: string) => (keys: string[]) => keys.filter((k) => newOwner.ownerOf(k) !== source);

  // Each phase is also recorded in the main database, where the admin's Shards page reads it.
  let reached: MovePhase = 'copy';
  const phase = async (name: MovePhase, detail: Record<string, unknown>): Promise<void> => {
    reached = name;
    await options.store.noteMove({ service: from.service, fromVersion: from.version, toVersion: to.version, phase: name, outcome: 'running', detail });
    await options.onPhase?.(name, detail);
  };
  const abandoned = async (err: unknown): Promise<void> => {
    const error = err instanceof Error ? err.message : String(err);
    await options.store
      .noteMove({ service: from.service, fromVersion: from.version, toVersion: to.version, phase: reached, outcome: 'abandoned', detail: { error } })
      .catch((noteErr: unknown) => logger.warn({ err: noteErr, service: from.service }, 'the abandoned move could not be recorded'));
  };

  // 1. copy, unfrozen (a failure here leaves nothing frozen: the copies are replaced by the next move's)
  let copiedRows = 0;
  try {
    await phase('copy', {});
    for (const source of from.members) {
      const keys = leaving(source.id)(await data.keys(storage(source.id)));
      const busy = new Set(await data.busyKeys?.(storage(source.id), keys));
      const routes = byTarget(keys.filter((k) => !busy.has(k)), newOwner.ownerOf.bind(newOwner));
      for (const [target, keys] of routes) copiedRows += await copyKeys(storage(source.id), storage(target), data, keys);
    }
  } catch (err) {
    await abandoned(err);
    throw err;
  }

  // 2. freeze
  const frozenAt = Date.now();
  const frozen: Routes = new Map();
  try {
    await phase('freeze', {});
    for (const source of from.members) {
      const keys = await freezeKeys(storage(source.id), data, leaving(source.id), limits.lockTimeoutMs);
      frozen.set(source.id, byTarget(keys, newOwner.ownerOf.bind(newOwner)));
    }
    // 3. running work finishes
    for (const [source, routes] of frozen) await quiesce(storage(source), data, [...routes.values()].flat(), limits);
    // 4. catch-up
    await phase('catch-up', { keys: countKeys(frozen) });
    for (const [source, routes] of frozen) for (const [target, keys] of routes) copiedRows += await copyKeys(storage(source), storage(target), data, keys);
    // 5. switch
    await phase('switch', { version: to.version });
    for (const [source, routes] of frozen) await setMarkers(storage(source), data.service, [...routes.values()].flat(), 'moved');
    if (!(await options.store.write(to, options.fence))) throw new Error(`shard map of ${from.service} changed during the move (version ${to.version} exists)`);
  } catch (err) {
    logger.warn({ err, service: from.service }, 'shard move abandoned: keys unfrozen, copies removed, map unchanged');
    await undo(frozen, storage, data);
    await abandoned(err);
    throw err;
  }
  const frozenMs = Date.now() - frozenAt;
  for (const routes of frozen.values()) for (const [target, keys] of routes) await setMarkers(storage(target), data.service, keys, 'none');

  // 6. grace, then clean up
  await sleep(limits.graceMs);
  await phase('clean-up', {});
  for (const [source, routes] of frozen) {
    await reopenShard(storage(source), data.service);
    await deleteKeys(storage(source), data, [...routes.values()].flat());
  }
  const report: MoveReport = {
    service: from.service,
    fromVersion: from.version,
    toVersion: to.version,
    routes: Object.fromEntries([...frozen].flatMap(([source, routes]) => [...routes].map(([target, keys]) => [`${source}→${target}`, keys.length]))),
    movedKeys: countKeys(frozen),
    copiedRows,
    frozenMs,
    durationMs: Date.now() - started,
  };
  await options.store.noteMove({ service: from.service, fromVersion: from.version, toVersion: to.version, phase: 'clean-up', outcome: 'done', detail: { ...report } });
  logger.info(report, 'shard move done');
  return report;
}

/** Waits until no work runs for `keys` on `storage`, or throws when `quiesceMs` passes first. */
async function quiesce(storage: Storage, data: ShardedData, keys: readonly string[], limits: MoveLimits): Promise<void> {
  if (keys.length === 0) return;
  const deadline = Date.now() + limits.quiesceMs;
  for (;;) {
    const pending = await data.pendingWork(storage, keys);
    if (pending === 0) return;
    if (Date.now() >= deadline) throw new Error(`${pending} unit(s) of ${data.service} work still running for the keys being moved after ${limits.quiesceMs} ms`);
    await sleep(limits.quiescePollMs);
  }
}

/** Abandons a move: sources unfrozen and reopened, the targets' copies deleted. */
async function undo(frozen: Routes, storage: (id: string) => Storage, data: ShardedData): Promise<void> {
  for (const [source, routes] of frozen) {
    for (const [target, keys] of routes) await deleteKeys(storage(target), data, keys);
    await setMarkers(storage(source), data.service, [...routes.values()].flat(), 'none');
    await reopenShard(storage(source), data.service);
  }
}

function byTarget(keys: readonly string[], ownerOf: (key: string) => string): Map<string, string[]> {
  const routes = new Map<string, string[]>();
  for (const key of keys) {
    const target = ownerOf(key);
    const list = routes.get(target);
    if (list) list.push(key);
    else routes.set(target, [key]);
  }
  return routes;
}

function countKeys(frozen: Routes): number {
  let n = 0;
  for (const routes of frozen.values()) for (const keys of routes.values()) n += keys.length;
  return n;
}

function fail(message: string): never {
  throw new Error(message);
}
