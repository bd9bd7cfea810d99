import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { RestoreTargetsNotEmpty, loadConfig, runBackup, runRestore } from '@agora/cli';
import { PgliteStorage } from '@agora/platform';

const SECRET = 'embedded-backup-secret-0123456789abcdef-0123';

/**
 * `npm start`'s embedded database (PGlite in <AGORA_DATA_DIR>/pglite): backed up with PGlite's own
 * dump and restored into another data directory, rows and all; a restore over a data directory
 * that holds something is refused.
 */
describe('backup and restore: the embedded database (PGlite)', () => {
  const root = mkdtempSync(join(tmpdir(), 'agora-embedded-backup-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('round-trips the data directory and checks the rows', async () => {
    const source = loadConfig({ AGORA_DATA_DIR: join(root, 'source'), AGORA_JWT_SECRET: SECRET, AGORA_LOG_LEVEL: 'silent' });
    const storage = await PgliteStorage.open(join(source.dataDir, 'pglite'));
    try {
      await storage.query(sql`create schema shop`);
      await storage.query(sql`create table shop.orders (id int primary key, total int not null)`);
      await storage.query(sql`insert into shop.orders select i, i * 100 from generate_series(1, 25) i`);
    } finally {
      await storage.close();
    }
    const backup = join(root, 'backup');
    const manifest = await runBackup(source, backup);
    expect(manifest.artifacts).toMatchObject([{ kind: 'embedded', file: 'pglite.tar.gz', rows: { 'shop.orders': 25 } }]);

    const target = loadConfig({ AGORA_DATA_DIR: join(root, 'target'), AGORA_JWT_SECRET: SECRET, AGORA_LOG_LEVEL: 'silent' });
    const report = await runRestore(target, backup, { force: false });
    expect(report.rows['pglite.tar.gz']).toEqual({ 'shop.orders': 25 });
    // Restoring again over what is now there: refused, unless --force.
    await expect(runRestore(target, backup, { force: false })).rejects.toBeInstanceOf(RestoreTargetsNotEmpty);
  }, 180_000);
});
