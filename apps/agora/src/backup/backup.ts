import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgoraConfig } from '../config.js';
import { dumpEmbedded } from './embedded.js';
import { snapshotStream, withNats } from './jetstream.js';
import { MANIFEST_FORMAT, sha256File, writeManifest, type Artifact, type Manifest, type UnsealedArtifact } from './manifest.js';
import { planBackup, recordedDatabase } from './plan.js';
import { closeSnapshot, dumpInSnapshot, openSnapshot, type DatabaseSnapshot } from './postgres.js';

/** The version of the `agora` package (apps/agora/package.json), found from this file in src/ or dist/src/. */
export function agoraVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++, dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (!existsSync(path)) continue;
    const pkg = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === '@agora/cli' && pkg.version) return pkg.version;
  }
  throw new Error('cannot find the @agora/cli package.json to read the version from');
}

export type Progress = (line: string) => void;

/**
 * `agora backup --to DIR`. The order matters for what a restore can recover:
 * 1. the event stream's snapshot first, then
 * 2. one snapshot per PostgreSQL database, all exported before any dump starts (so they lie
 *    within milliseconds of each other), then each database dumped in its own snapshot.
 * Every event a database marks published was published before the mark, so it is in the stream
 * snapshot when the mark is older than the stream's; marks newer than it are cleared by the
 * restore (`outbox.ts` here) and the relays publish those events again. Every delivery a
 * consumer acknowledged before the stream snapshot was handled (and committed) before it, so
 * it is in the database's dump; anything later is delivered again (handlers are idempotent).
 */
export async function runBackup(config: AgoraConfig, dir: string, progress: Progress = () => undefined): Promise<Manifest> {
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new Error(`${dir} is not empty: a backup goes into a new or empty directory`);
  mkdirSync(dir, { recursive: true });
  const plan = await planBackup(config);
  const started = Date.now();
  const artifacts: Artifact[] = [];
  const add = async (artifact: UnsealedArtifact): Promise<void> => {
    const path = join(dir, artifact.file);
    artifacts.push({ ...artifact, sha256: await sha256File(path), bytes: statSync(path).size });
  };

  if (plan.stream) {
    const { natsUrl, stream } = plan.stream;
    const file = `jetstream-${stream}.snapshot`;
    const takenAt = new Date().toISOString();
    const snapshot = await withNats(natsUrl, (nc) => snapshotStream(nc, stream, join(dir, file)));
    await add({ kind: 'jetstream', file, stream, takenAt, ...snapshot });
    progress(`stream ${stream}: ${snapshot.messages} message(s), ${snapshot.consumers} consumer(s)`);
  }

  const snapshots: DatabaseSnapshot[] = [];
  try {
    for (const database of plan.databases) snapshots.push(await openSnapshot(database.url));
    for (const [index, database] of plan.databases.entries()) {
      const snapshot = snapshots[index] as DatabaseSnapshot;
      const recorded = recordedDatabase(database.url);
      const file = `pg-${index}-${recorded.database}.dump`;
      const rows = await dumpInSnapshot(snapshot, join(dir, file));
      await add({ kind: 'postgres', file, ...recorded, uses: database.uses, snapshotAt: snapshot.takenAt, rows });
      progress(`database ${recorded.database} (${database.uses.map((u) => (u.shard ? `${u.service} shard ${u.shard}` : u.service)).join(', ')}): ${Object.values(rows).reduce((a, b) => a + b, 0)} row(s) in ${Object.keys(rows).length} table(s)`);
    }
  } finally {
    await Promise.all(snapshots.map(closeSnapshot));
  }

  if (plan.embedded) {
    const file = 'pglite.tar.gz';
    const rows = await dumpEmbedded(plan.embedded.dataDir, join(dir, file));
    await add({ kind: 'embedded', file, dataDir: plan.embedded.dataDir, rows });
    progress(`embedded database ${plan.embedded.dataDir}: ${Object.values(rows).reduce((a, b) => a + b, 0)} row(s) in ${Object.keys(rows).length} table(s)`);
  }

  const finished = Date.now();
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    agoraVersion: agoraVersion(),
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    durationMs: finished - started,
    artifacts,
  };
  writeManifest(dir, manifest);
  return manifest;
}
