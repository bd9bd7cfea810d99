import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { AgoraConfig } from '../config.js';
import { runBackup } from './backup.js';
import { BackupInvalid } from './manifest.js';
import { RestoreMismatch, RestoreTargetsNotEmpty, runRestore } from './restore.js';

/** Exit codes (sysexits.h): the backup is unusable; a target holds data; the restored data differs. */
export const BACKUP_EXIT = { usage: 2, backupInvalid: 65, restoreMismatch: 70, targetsNotEmpty: 73 } as const;

export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: CommandIo = { stdout: (t) => void process.stdout.write(t), stderr: (t) => void process.stderr.write(t) };

/** `agora backup --to DIR [--json]`: the last line with --json is `{ dir, durationMs, artifacts, rows, messages }`. */
export async function runBackupCommand(config: AgoraConfig, args: readonly string[], io: CommandIo = processIo): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { to: { type: 'string' }, json: { type: 'boolean', default: false } } });
  if (!values.to) {
    io.stderr('usage: agora backup --to DIR [--json]\n');
    return BACKUP_EXIT.usage;
  }
  const dir = resolve(values.to);
  const manifest = await runBackup(config, dir, (line) => io.stdout(`${line}\n`));
  const rows = manifest.artifacts.reduce((n, a) => n + (a.kind === 'jetstream' ? 0 : Object.values(a.rows).reduce((x, y) => x + y, 0)), 0);
  const messages = manifest.artifacts.reduce((n, a) => n + (a.kind === 'jetstream' ? a.messages : 0), 0);
  io.stdout(`backup written to ${dir} in ${manifest.durationMs} ms: ${manifest.artifacts.length} artifact(s), ${rows} row(s), ${messages} event(s)\n`);
  if (values.json) io.stdout(`${JSON.stringify({ dir, durationMs: manifest.durationMs, artifacts: manifest.artifacts.length, rows, messages })}\n`);
  return 0;
}

/** `agora restore --from DIR [--force] [--json]`: the last line with --json is `{ dir, durationMs, rows, messages, rearmed }`. */
export async function runRestoreCommand(config: AgoraConfig, args: readonly string[], io: CommandIo = processIo): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { from: { type: 'string' }, force: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } } });
  if (!values.from) {
    io.stderr('usage: agora restore --from DIR [--force] [--json]\n');
    return BACKUP_EXIT.usage;
  }
  const dir = resolve(values.from);
  try {
    const report = await runRestore(config, dir, { force: values.force }, (line) => io.stdout(`${line}\n`));
    const rows = Object.values(report.rows).reduce((n, tables) => n + Object.values(tables).reduce((x, y) => x + y, 0), 0);
    const rearmed = Object.values(report.rearmed).reduce((x, y) => x + y, 0);
    io.stdout(`restored from ${dir} in ${report.durationMs} ms: ${rows} row(s), ${report.stream?.messages ?? 0} event(s); ${rearmed} outbox row(s) to publish again\n`);
    if (values.json) io.stdout(`${JSON.stringify({ dir, durationMs: report.durationMs, rows, messages: report.stream?.messages ?? 0, rearmed })}\n`);
    return 0;
  } catch (err) {
    if (err instanceof BackupInvalid) {
      io.stderr(`agora restore: ${err.message}; nothing was touched\n`);
      return BACKUP_EXIT.backupInvalid;
    }
    if (err instanceof RestoreTargetsNotEmpty) {
      io.stderr(`agora restore: ${err.message}; nothing was touched\n`);
      return BACKUP_EXIT.targetsNotEmpty;
    }
    if (err instanceof RestoreMismatch) {
      io.stderr(`agora restore: ${err.message}\n`);
      return BACKUP_EXIT.restoreMismatch;
    }
    throw err;
  }
}
