import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The manifest of a backup directory (`manifest.json`): what was backed up, from where, when, with
 * a SHA-256 per artifact file and the counts a restore must find again.
 */
export const MANIFEST_FILE = 'manifest.json';
/** Bumped when the layout changes; a restore refuses a format it does not know. */
export const MANIFEST_FORMAT = 1;

/** One use of a PostgreSQL database: a service's main database, or one shard of a sharded service. */
export interface DatabaseUse {
  service: string;
  /** The shard id (`s0`, ...) when the database is a shard of `service` (docs/sharding.md). */
  shard?: string;
}

export interface PostgresArtifact {
  kind: 'postgres';
  /** The dump file (pg_dump --format=custom), relative to the backup directory. */
  file: string;
  sha256: string;
  bytes: number;
  /** The database name, and its URL without the password (a restore takes passwords from the environment). */
  database: string;
  url: string;
  uses: DatabaseUse[];
  /** When the dump's snapshot was exported (this process's clock). */
  snapshotAt: string;
  /** Rows per `schema.table`, counted in the snapshot the dump was taken from. */
  rows: Record<string, number>;
}

export interface EmbeddedArtifact {
  kind: 'embedded';
  /** PGlite's own dump of its data directory (a gzipped tarball). */
  file: string;
  sha256: string;
  bytes: number;
  /** The data directory it came from (`<AGORA_DATA_DIR>/pglite`). */
  dataDir: string;
  rows: Record<string, number>;
}

export interface StreamArtifact {
  kind: 'jetstream';
  /** The server's own stream snapshot (messages and consumers, as the server streams it). */
  file: string;
  sha256: string;
  bytes: number;
  stream: string;
  /** When the snapshot was asked for (this process's clock): outbox marks from then on are cleared at restore. */
  takenAt: string;
  /** The stream's configuration and state as the snapshot response gave them (the restore request needs both). */
  config: Record<string, unknown>;
  state: Record<string, unknown>;
  messages: number;
  consumers: number;
}

export type Artifact = PostgresArtifact | EmbeddedArtifact | StreamArtifact;
/** An artifact before its file is hashed. */
export type UnsealedArtifact = Omit<PostgresArtifact, 'sha256' | 'bytes'> | Omit<EmbeddedArtifact, 'sha256' | 'bytes'> | Omit<StreamArtifact, 'sha256' | 'bytes'>;

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  agoraVersion: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  artifacts: Artifact[];
}

/** The SHA-256 of a file, streamed (dumps may be large). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function writeManifest(dir: string, manifest: Manifest): void {
  writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

export class BackupInvalid extends Error {
  constructor(readonly problems: string[]) {
    super(`the backup cannot be restored: ${problems.join('; ')}`);
    this.name = 'BackupInvalid';
  }
}

/** Reads and shape-checks a manifest; throws BackupInvalid naming what is wrong. */
export function readManifest(dir: string): Manifest {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) throw new BackupInvalid([`${path} does not exist`]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new BackupInvalid([`${path} is not JSON (${err instanceof Error ? err.message : String(err)})`]);
  }
  const manifest = parsed as Partial<Manifest>;
  if (manifest.format !== MANIFEST_FORMAT) throw new BackupInvalid([`manifest format ${String(manifest.format)} is not ${MANIFEST_FORMAT}`]);
  if (!Array.isArray(manifest.artifacts) || manifest.artifacts.length === 0) throw new BackupInvalid(['the manifest lists no artifacts']);
  for (const artifact of manifest.artifacts) {
    if (!['postgres', 'embedded', 'jetstream'].includes(artifact.kind) || typeof artifact.file !== 'string' || !/^[0-9a-f]{64}$/.test(artifact.sha256)) {
      throw new BackupInvalid([`an artifact entry is malformed: ${JSON.stringify(artifact).slice(0, 200)}`]);
    }
    // Files are named by the backup itself: a path that leaves the directory is not one of them.
    if (artifact.file.includes('/') || artifact.file.includes('\\') || artifact.file.startsWith('.')) throw new BackupInvalid([`artifact file name ${artifact.file} is not a plain file name`]);
  }
  return manifest as Manifest;
}

/** Every artifact's file is there with the size and SHA-256 the manifest records; returns the problems (none: sound). */
export async function verifyArtifacts(dir: string, manifest: Manifest): Promise<string[]> {
  const problems: string[] = [];
  for (const artifact of manifest.artifacts) {
    const path = join(dir, artifact.file);
    if (!existsSync(path)) {
      problems.push(`${artifact.file} is missing`);
      continue;
    }
    const actual = await sha256File(path);
    if (actual !== artifact.sha256) problems.push(`${artifact.file}: sha256 ${actual} but the manifest records ${artifact.sha256}`);
  }
  return problems;
}

/** Differences between counts recorded at backup and counts found after a restore. */
export function countMismatches(what: string, expected: Readonly<Record<string, number>>, actual: Readonly<Record<string, number>>): string[] {
  const problems: string[] = [];
  for (const name of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    if (expected[name] !== actual[name]) problems.push(`${what} ${name}: ${actual[name] ?? 'missing'} after restore, ${expected[name] ?? 'absent'} in the backup`);
  }
  return problems;
}
