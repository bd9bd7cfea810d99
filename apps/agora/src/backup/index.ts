export { runBackup, agoraVersion } from './backup.js';
export { runRestore, RestoreMismatch, RestoreTargetsNotEmpty, type RestoreReport } from './restore.js';
export { runBackupCommand, runRestoreCommand, BACKUP_EXIT } from './command.js';
export { BackupInvalid, MANIFEST_FILE, countMismatches, readManifest, type Manifest, type Artifact } from './manifest.js';
export { planBackup, planRestore, type BackupPlan } from './plan.js';
export { OUTBOX_REARM_MARGIN_MS } from './outbox.js';
