import { join } from 'node:path';
import pg from 'pg';
import { NATS_BUS_DEFAULTS, type ShardMember } from '@agora/platform';
import { SERVICES_WITH_STORAGE, type AgoraConfig } from '../config.js';
import type { DatabaseUse, Manifest, PostgresArtifact } from './manifest.js';
import { databaseKey, databaseName, withoutPassword } from './postgres.js';

/** The services whose data is sharded by shopper (docs/sharding.md): their shard databases are backed up too. */
const SHARDED = ['order', 'cart'] as const;

/** What a backup of this environment takes: every PostgreSQL database once, the embedded data directory, the event stream. */
export interface BackupPlan {
  databases: { url: string; uses: DatabaseUse[] }[];
  /** `<AGORA_DATA_DIR>/pglite` when some service has no PostgreSQL URL (`npm start`). */
  embedded: { dataDir: string } | undefined;
  stream: { natsUrl: string; stream: string } | undefined;
}

/** The data directory of the embedded database (as compose.ts's StorageSet opens it). */
export function embeddedDataDir(config: AgoraConfig): string {
  return join(config.dataDir, 'pglite');
}

function serviceUrl(config: AgoraConfig, service: string): string | undefined {
  return config.serviceDatabaseUrls[service] ?? config.databaseUrl;
}

/**
 * The shard databases a service's newest stored map names (the truth once written), else those
 * `<SERVICE>_SHARDS` lists (they seed the first map as s0, s1, ...). Read-only: a database
 * without the control schema has no map yet.
 */
async function shardMembers(config: AgoraConfig, service: (typeof SHARDED)[number], mainUrl: string): Promise<{ id: string; url: string }[]> {
  const client = new pg.Client({ connectionString: mainUrl });
  await client.connect();
  try {
    const { rows: hasTable } = await client.query<{ present: boolean }>(`select to_regclass('sharding.shard_maps') is not null as present`);
    if (hasTable[0]?.present) {
      const { rows } = await client.query<{ members: ShardMember[] }>('select members from sharding.shard_maps where service = $1 order by version desc limit 1', [service]);
      const members = rows[0]?.members;
      if (members) return members.flatMap((m) => (m.url === null ? [] : [{ id: m.id, url: m.url }]));
    }
  } finally {
    await client.end();
  }
  return (config.shards[service] ?? []).map((url, i) => ({ id: `s${i}`, url }));
}

/**
 * The databases holding checkout sagas (the order shards, then the order service's main database)
 * are snapshotted first, the saga participants (inventory, payment, ...) after: a saga in the
 * backup that has not recorded a step done runs it again after the restore, and the participant,
 * keyed by the order id, performs it or replays what it already did (docs/operations.md).
 */
function sagaFirst(uses: readonly DatabaseUse[]): number {
  if (uses.some((u) => u.service === 'order' && u.shard !== undefined)) return 0;
  if (uses.some((u) => u.service === 'order')) return 1;
  return 2;
}

export async function planBackup(config: AgoraConfig): Promise<BackupPlan> {
  const databases = new Map<string, { url: string; uses: DatabaseUse[] }>();
  const use = (url: string, entry: DatabaseUse) => {
    const key = databaseKey(url);
    const found = databases.get(key) ?? { url, uses: [] };
    found.uses.push(entry);
    databases.set(key, found);
  };
  let embedded = false;
  for (const service of SERVICES_WITH_STORAGE) {
    const url = serviceUrl(config, service);
    if (url) use(url, { service });
    else embedded = true;
  }
  for (const service of SHARDED) {
    const main = serviceUrl(config, service);
    if (!main) continue;
    for (const member of await shardMembers(config, service, main)) use(member.url, { service, shard: member.id });
  }
  return {
    databases: [...databases.values()].sort((a, b) => sagaFirst(a.uses) - sagaFirst(b.uses)),
    embedded: embedded ? { dataDir: embeddedDataDir(config) } : undefined,
    stream: config.natsUrl ? { natsUrl: config.natsUrl, stream: config.natsStream ?? NATS_BUS_DEFAULTS.stream } : undefined,
  };
}

/** Where each artifact of a backup goes in this environment. */
export interface RestoreTargets {
  /** The target URL per PostgreSQL artifact file. */
  databases: Map<string, string>;
  embedded: { dataDir: string } | undefined;
  natsUrl: string | undefined;
}

/**
 * A database artifact goes where this environment puts the services it held (their
 * `<SERVICE>_DATABASE_URL` or `DATABASE_URL`); a shard-only database to the `<SERVICE>_SHARDS`
 * URL of the same database name, else back to the URL it came from (the restored shard map names
 * it). Returns the targets, or the reasons the environment does not fit the backup.
 */
export function planRestore(config: AgoraConfig, manifest: Manifest): { targets: RestoreTargets; problems: string[] } {
  const problems: string[] = [];
  const databases = new Map<string, string>();
  const seen = new Map<string, string>();
  let embedded: RestoreTargets['embedded'];
  let natsUrl: string | undefined;
  for (const artifact of manifest.artifacts) {
    switch (artifact.kind) {
      case 'postgres': {
        const target = postgresTarget(config, artifact, problems);
        if (!target) break;
        const key = databaseKey(target);
        const other = seen.get(key);
        if (other) problems.push(`${artifact.file} and ${other} would both be restored into ${key}`);
        seen.set(key, artifact.file);
        databases.set(artifact.file, target);
        break;
      }
      case 'embedded':
        embedded = { dataDir: embeddedDataDir(config) };
        break;
      case 'jetstream': {
        const stream = config.natsStream ?? NATS_BUS_DEFAULTS.stream;
        if (!config.natsUrl) problems.push(`${artifact.file} is the stream ${artifact.stream} but NATS_URL is not set`);
        else if (artifact.stream !== stream) problems.push(`${artifact.file} is the stream ${artifact.stream} but this environment's stream is ${stream} (AGORA_NATS_STREAM)`);
        natsUrl = config.natsUrl;
        break;
      }
    }
  }
  return { targets: { databases, embedded, natsUrl }, problems };
}

function postgresTarget(config: AgoraConfig, artifact: PostgresArtifact, problems: string[]): string | undefined {
  const mainUses = artifact.uses.filter((u) => u.shard === undefined);
  if (mainUses.length > 0) {
    const urls = mainUses.map((u) => serviceUrl(config, u.service));
    const missing = mainUses.filter((_, i) => urls[i] === undefined).map((u) => u.service);
    if (missing.length > 0) {
      problems.push(`${artifact.file} holds ${missing.join(', ')}, which this environment runs embedded (set DATABASE_URL)`);
      return undefined;
    }
    const keys = new Set(urls.map((u) => databaseKey(u as string)));
    if (keys.size > 1) {
      problems.push(`${artifact.file} holds ${mainUses.map((u) => u.service).join(', ')} in one database, which this environment splits over ${[...keys].join(', ')}`);
      return undefined;
    }
    return urls[0];
  }
  const shardUses = artifact.uses.filter((u) => u.shard !== undefined);
  for (const u of shardUses) {
    const named = (config.shards[u.service as (typeof SHARDED)[number]] ?? []).find((url) => databaseName(url) === artifact.database);
    if (named) return named;
  }
  // Back where it came from; the password (if any) from DATABASE_URL when it is the same server and role.
  return withPasswordOf(artifact.url, config.databaseUrl);
}

function withPasswordOf(url: string, source: string | undefined): string {
  if (!source) return url;
  const target = new URL(url);
  const from = new URL(source);
  if (from.host === target.host && from.username === target.username && from.password) target.password = from.password;
  return target.toString();
}

/** The manifest's record of a database: its name and its URL without the password. */
export function recordedDatabase(url: string): { database: string; url: string } {
  return { database: databaseName(url), url: withoutPassword(url).url };
}
