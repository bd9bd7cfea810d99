import { join } from 'node:path';
import { PostgresStorage, type Storage } from '@agora/platform';
import type { AgoraConfig } from '../config.js';
import type { Progress } from './backup.js';
import { embeddedTargetEmpty, restoreEmbedded } from './embedded.js';
import { deleteStream, restoreStream, streamInfo, withNats } from './jetstream.js';
import { BackupInvalid, countMismatches, readManifest, verifyArtifacts, type Manifest, type StreamArtifact } from './manifest.js';
import { rearmOutboxes } from './outbox.js';
import { planRestore } from './plan.js';
import { prepareTarget, restoreDatabase, targetState, withoutPassword, type TargetState } from './postgres.js';

export interface RestoreOptions {
  /** Replace targets that hold data (drop the database, empty the data directory, delete the stream). */
  force: boolean;
}

export interface RestoreReport {
  manifest: Manifest;
  durationMs: number;
  /** Rows per table found after the restore, per artifact file. */
  rows: Record<string, Record<string, number>>;
  /** Outbox rows marked unpublished again (published after the stream snapshot), per schema. */
  rearmed: Record<string, number>;
  stream: { messages: number; consumers: number } | undefined;
}

/** The targets hold data and --force was not given: nothing was touched. */
export class RestoreTargetsNotEmpty extends Error {
  constructor(readonly targets: string[]) {
    super(`refusing to restore over data: ${targets.join('; ')} (empty them, or restore --force to replace them)`);
    this.name = 'RestoreTargetsNotEmpty';
  }
}

/** The restored data differs from what the manifest recorded. */
export class RestoreMismatch extends Error {
  constructor(readonly problems: string[]) {
    super(`the restore does not match the backup: ${problems.join('; ')}`);
    this.name = 'RestoreMismatch';
  }
}

/**
 * `agora restore --from DIR`. Touches nothing until the backup checks out (manifest, every
 * artifact's SHA-256, targets this environment names, targets empty unless --force); then
 * restores every database, the embedded data directory and the stream, and checks the row and
 * message counts against the manifest.
 */
export async function runRestore(config: AgoraConfig, dir: string, options: RestoreOptions, progress: Progress = () => undefined): Promise<RestoreReport> {
  const manifest = readManifest(dir);
  const corrupt = await verifyArtifacts(dir, manifest);
  if (corrupt.length > 0) throw new BackupInvalid(corrupt);
  const { targets, problems } = planRestore(config, manifest);
  if (problems.length > 0) throw new BackupInvalid(problems);
  progress(`backup of ${manifest.startedAt} (agora ${manifest.agoraVersion}): ${manifest.artifacts.length} artifact(s), checksums verified`);

  const states = new Map<string, TargetState>();
  const occupied: string[] = [];
  for (const [file, url] of targets.databases) {
    const state = await targetState(url);
    states.set(file, state);
    if (state === 'not-empty') occupied.push(`database ${withoutPassword(url).url} is not empty`);
  }
  if (targets.embedded && !embeddedTargetEmpty(targets.embedded.dataDir)) occupied.push(`${targets.embedded.dataDir} is not empty`);
  const streamArtifact = manifest.artifacts.find((a): a is StreamArtifact => a.kind === 'jetstream');
  const natsUrl = targets.natsUrl;
  const streamExists = streamArtifact && natsUrl ? (await withNats(natsUrl, (nc) => streamInfo(nc, streamArtifact.stream))) !== undefined : false;
  if (streamArtifact && streamExists) occupied.push(`stream ${streamArtifact.stream} exists`);
  if (occupied.length > 0 && !options.force) throw new RestoreTargetsNotEmpty(occupied);

  const started = Date.now();
  const mismatches: string[] = [];
  const rows: RestoreReport['rows'] = {};
  const rearmed: Record<string, number> = {};
  const rearm = async (storage: Storage) => {
    if (!streamArtifact) return;
    for (const [schema, n] of Object.entries(await rearmOutboxes(storage, new Date(streamArtifact.takenAt)))) rearmed[schema] = (rearmed[schema] ?? 0) + n;
  };
  for (const artifact of manifest.artifacts) {
    if (artifact.kind === 'postgres') {
      const url = targets.databases.get(artifact.file) as string;
      await prepareTarget(url, states.get(artifact.file) === 'not-empty');
      const found = await restoreDatabase(url, join(dir, artifact.file));
      rows[artifact.file] = found;
      mismatches.push(...countMismatches(`${artifact.database}:`, artifact.rows, found));
      const storage = new PostgresStorage({ url, poolMax: 1 });
      try {
        await rearm(storage);
      } finally {
        await storage.close();
      }
      progress(`database ${artifact.database} restored into ${withoutPassword(url).url}`);
    } else if (artifact.kind === 'embedded' && targets.embedded) {
      const dataDir = targets.embedded.dataDir;
      const found = await restoreEmbedded(join(dir, artifact.file), dataDir, options.force, rearm);
      rows[artifact.file] = found;
      mismatches.push(...countMismatches('embedded:', artifact.rows, found));
      progress(`embedded database restored into ${dataDir}`);
    }
  }
  let stream: RestoreReport['stream'];
  if (streamArtifact && natsUrl) {
    stream = await withNats(natsUrl, async (nc) => {
      if (streamExists) await deleteStream(nc, streamArtifact.stream);
      return restoreStream(nc, streamArtifact, join(dir, streamArtifact.file));
    });
    if (stream.messages !== streamArtifact.messages) mismatches.push(`stream ${streamArtifact.stream}: ${stream.messages} message(s) after restore, ${streamArtifact.messages} in the backup`);
    if (stream.consumers !== streamArtifact.consumers) mismatches.push(`stream ${streamArtifact.stream}: ${stream.consumers} consumer(s) after restore, ${streamArtifact.consumers} in the backup`);
    progress(`stream ${streamArtifact.stream} restored: ${stream.messages} message(s), ${stream.consumers} consumer(s)`);
  }
  if (mismatches.length > 0) throw new RestoreMismatch(mismatches);
  return { manifest, durationMs: Date.now() - started, rows, rearmed, stream };
}
