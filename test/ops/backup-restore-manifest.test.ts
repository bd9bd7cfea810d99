import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackupInvalid, MANIFEST_FILE, countMismatches, loadConfig, planRestore, readManifest, type Manifest } from '@agora/cli';

const SECRET = 'manifest-test-secret-0123456789abcdef-012345';
const SHA = 'a'.repeat(64);

function manifestWith(artifacts: Manifest['artifacts']): Manifest {
  return { format: 1, agoraVersion: '0.1.0', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', durationMs: 1000, artifacts };
}

/** The checks a restore makes before it touches anything, each shown to catch what it claims. */
describe('backup manifest and restore plan', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agora-manifest-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names every table whose count differs, is missing or is new after a restore', () => {
    expect(countMismatches('db:', { 'a.x': 3, 'a.y': 1 }, { 'a.x': 3, 'a.y': 1 })).toEqual([]);
    expect(countMismatches('db:', { 'a.x': 3, 'a.y': 1 }, { 'a.x': 2, 'a.z': 0 })).toEqual([
      'db: a.x: 2 after restore, 3 in the backup',
      'db: a.y: missing after restore, 1 in the backup',
      'db: a.z: 0 after restore, absent in the backup',
    ]);
  });

  it('refuses a manifest whose artifact file would leave the backup directory, or of an unknown format', () => {
    const write = (m: unknown) => writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(m));
    write(manifestWith([{ kind: 'embedded', file: '../etc/passwd', sha256: SHA, bytes: 1, dataDir: '/x', rows: {} }]));
    expect(() => readManifest(dir)).toThrow(BackupInvalid);
    write({ ...manifestWith([{ kind: 'embedded', file: 'pglite.tar.gz', sha256: SHA, bytes: 1, dataDir: '/x', rows: {} }]), format: 2 });
    expect(() => readManifest(dir)).toThrow(/format 2/);
  });

  it('refuses to restore services kept in one database into an environment that splits them, or a stream it does not run', () => {
    const artifact = {
      kind: 'postgres' as const,
      file: 'pg-0-shop.dump',
      sha256: SHA,
      bytes: 1,
      database: 'shop',
      url: 'postgres://postgres@127.0.0.1:5432/shop',
      uses: [{ service: 'order' }, { service: 'inventory' }],
      snapshotAt: '2026-01-01T00:00:00.000Z',
      rows: {},
    };
    const split = loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/shop', INVENTORY_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/stock', AGORA_JWT_SECRET: SECRET, AGORA_DATA_DIR: dir });
    expect(planRestore(split, manifestWith([artifact])).problems).toEqual([expect.stringMatching(/holds order, inventory in one database, which this environment splits/)]);
    const together = loadConfig({ DATABASE_URL: 'postgres://postgres:pw@127.0.0.1:5432/shop', AGORA_JWT_SECRET: SECRET, AGORA_DATA_DIR: dir });
    const plan = planRestore(together, manifestWith([artifact, { kind: 'jetstream', file: 's', sha256: SHA, bytes: 1, stream: 'AGORA_EVENTS', takenAt: artifact.snapshotAt, config: {}, state: {}, messages: 0, consumers: 0 }]));
    expect(plan.targets.databases.get('pg-0-shop.dump')).toBe('postgres://postgres:pw@127.0.0.1:5432/shop');
    expect(plan.problems).toEqual([expect.stringMatching(/NATS_URL is not set/)]);
  });
});
