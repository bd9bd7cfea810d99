import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPILED_MAIN, FROM_SOURCE_ENV, ROOT, agoraLauncher, buildState } from '@agora/cli/launch';
import { freePort } from '@agora/platform/testing';

/**
 * The production build (bin/launch.js, bin/build.js, the global setup that builds before the
 * suite): `agora start` runs the compiled JavaScript in one plain node process, and the freshness
 * check that decides between dist/ and the sources notices what it claims to.
 */

const AGORA_BIN = join(ROOT, 'apps', 'agora', 'bin', 'agora.js');
/** Embedded PGlite and six services' migrations; generous for a loaded 2-core machine (a quiet one takes seconds). */
const READY_TIMEOUT_MS = 150_000;
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** Sets a file's modification time `seconds` from now. */
function age(path: string, seconds: number): void {
  const at = new Date(Date.now() + seconds * 1000);
  utimesSync(path, at, at);
}

/** Processes whose parent is `pid` (/proc/<pid>/stat's fourth field). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

describe('buildState (what decides between dist/ and the sources)', () => {
  it('is fresh after a build, stale when a source or an asset changes after it, and says which', () => {
    const root = mkdtempSync(join(tmpdir(), 'agora-build-state-'));
    dirs.push(root);
    write(join(root, 'package.json'), JSON.stringify({ workspaces: ['libs/*'] }));
    const lib = join(root, 'libs', 'a');
    write(join(lib, 'package.json'), JSON.stringify({ exports: { '.': { '@agora/source': './src/index.ts', default: './dist/src/index.js' } } }));
    write(join(lib, 'tsconfig.json'), '{}');
    write(join(lib, 'src', 'index.ts'), 'export const a = 1;\n');
    write(join(lib, 'src', 'store', 'migrations', '0000_init.sql'), 'select 1;\n');
    // A workspace without the source condition is not compiled and not looked at.
    write(join(root, 'libs', 'web', 'package.json'), JSON.stringify({ name: 'web' }));
    for (const path of ['tsconfig.json', 'src/index.ts', 'src/store/migrations/0000_init.sql']) age(join(lib, path), -60);

    expect(buildState(root)).toEqual({ fresh: false, stale: ['libs/a is not built'] });

    write(join(lib, 'dist', 'src', 'index.js'), 'export const a = 1;\n');
    write(join(lib, 'dist', 'tsconfig.tsbuildinfo'), '{}');
    expect(buildState(root).stale).toEqual(['libs/a/src/store/migrations/0000_init.sql is not copied to dist/']);

    write(join(lib, 'dist', 'src', 'store', 'migrations', '0000_init.sql'), 'select 1;\n');
    expect(buildState(root)).toEqual({ fresh: true, stale: [] });

    age(join(lib, 'src', 'index.ts'), 60);
    expect(buildState(root).stale).toEqual(['libs/a/src/index.ts changed after the build']);
    age(join(lib, 'src', 'index.ts'), -60);

    age(join(lib, 'src', 'store', 'migrations', '0000_init.sql'), 60);
    expect(buildState(root).stale).toEqual(['libs/a/src/store/migrations/0000_init.sql is not copied to dist/']);
  });

  it('AGORA_FROM_SOURCE=1 picks the sources through tsx with the source condition', () => {
    const launcher = agoraLauncher({ AGORA_FROM_SOURCE: '1' });
    expect(launcher.compiled).toBe(false);
    expect(launcher.main).toMatch(/apps\/agora\/src\/main\.ts$/);
    expect(launcher.nodeArgs).toContain('--conditions=@agora/source');
  });
});

describe('the compiled CLI', () => {
  it('is what the launchers use after the global setup built it', () => {
    const launcher = agoraLauncher();
    expect(launcher, `the build is not current: ${buildState().stale.join('; ')}`).toMatchObject({ compiled: true, main: COMPILED_MAIN, nodeArgs: [] });
  });

  it('node apps/agora/dist/src/main.js --help prints the usage', () => {
    const result = spawnSync(process.execPath, [COMPILED_MAIN, '--help'], { encoding: 'utf8', timeout: READY_TIMEOUT_MS });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('agora start');
  });

  it('agora start runs in one plain node process (no tsx, no child) on embedded storage and answers /health/ready', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agora-compiled-'));
    dirs.push(dataDir);
    const port = await freePort();
    const child = spawn(process.execPath, [AGORA_BIN, 'start'], {
      env: { PATH: process.env.PATH ?? '', ...(process.env[FROM_SOURCE_ENV] ? { [FROM_SOURCE_ENV]: process.env[FROM_SOURCE_ENV] } : {}), AGORA_DATA_DIR: dataDir, AGORA_SEED: 'off', AGORA_DEMO_PRODUCTS: '0', AGORA_LOG_LEVEL: 'warn', PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const deadline = Date.now() + READY_TIMEOUT_MS;
      let ready = false;
      while (!ready && Date.now() < deadline && child.exitCode === null) {
        ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then((res) => res.status === 200, () => false);
        if (!ready) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(ready, output).toBe(true);
      expect(output).not.toContain('through tsx');
      const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      expect(cmdline).toEqual([process.execPath, AGORA_BIN, 'start']);
      expect(childrenOf(child.pid!)).toEqual([]);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, READY_TIMEOUT_MS + 30_000);
});
