/**
 * Builds the web app into apps/web/dist when it is missing or older than its sources, so
 * `npm install && npm start` (and the browser tests) always serve a current build without
 * paying for a rebuild on every start. Run by the root `prestart` script.
 *
 * The build goes to a folder of its own and is then swapped in, so a gateway reading dist at
 * that moment, or a second build running at the same time, never sees a half-written one.
 */
import { readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = dirname(dirname(fileURLToPath(import.meta.url)));
const DIST = join(WEB, 'dist');
const STAMP = join(DIST, 'index.html');
/** What a build is made of; package-lock.json catches a changed React or Vite. */
const INPUTS = ['src', 'public', 'index.html', 'vite.config.ts', 'package.json', 'tsconfig.json', join('..', '..', 'package-lock.json')];

function newestMtime(path: string): number {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function webBuildIsStale(): boolean {
  const built = statSync(STAMP, { throwIfNoEntry: false });
  if (!built) return true;
  return INPUTS.some((input) => newestMtime(join(WEB, input)) > built.mtimeMs);
}

function errorCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function swap(staging: string, retired: string): void {
  try {
    renameSync(DIST, retired);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
  try {
    renameSync(staging, DIST);
  } catch (err) {
    // Another build swapped its output in between our two renames; it is as fresh as ours.
    if (errorCode(err) !== 'ENOTEMPTY' && errorCode(err) !== 'EEXIST') throw err;
  }
}

async function buildWebApp(): Promise<void> {
  // Under a test runner NODE_ENV is "test", which would make Vite bundle React's development build.
  process.env.NODE_ENV = 'production';
  const { build } = await import('vite');
  const staging = join(WEB, `dist.build-${process.pid}`);
  const retired = join(WEB, `dist.old-${process.pid}`);
  try {
    await build({ root: WEB, mode: 'production', logLevel: 'warn', build: { outDir: staging, emptyOutDir: true } });
    swap(staging, retired);
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(retired, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const force = process.argv.includes('--force');
  if (!force && !webBuildIsStale()) return;
  const started = Date.now();
  process.stdout.write('building the web app (apps/web/dist)...\n');
  await buildWebApp();
  process.stdout.write(`web app built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`web app build failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
