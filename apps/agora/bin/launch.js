// How to launch Agora: the compiled build under plain `node` when it is present and current, the
// TypeScript sources through tsx otherwise. Every supervisor (bin/agora.js, `agora cluster`, the
// bench's process cluster, the tests) asks agoraLauncher() and nothing else.
//
// Plain JavaScript on purpose: this module decides whether compiled code may run, so it cannot
// itself need compiling. Its types are in launch.d.ts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The export condition under which every workspace package resolves to its TypeScript sources (package.json "exports"). */
export const SOURCE_CONDITION = '@agora/source';

/**
 * `AGORA_FROM_SOURCE=1` runs the sources through tsx even when the build is current;
 * `AGORA_FROM_SOURCE=0` runs the build even when sources changed after it (it must exist).
 */
export const FROM_SOURCE_ENV = 'AGORA_FROM_SOURCE';

export const COMPILED_MAIN = join(ROOT, 'apps', 'agora', 'dist', 'src', 'main.js');
export const SOURCE_MAIN = join(ROOT, 'apps', 'agora', 'src', 'main.ts');

/** What `tsc -b` writes last for a workspace: newer than every source file when the workspace is built. */
const BUILD_INFO = join('dist', 'tsconfig.tsbuildinfo');
const TS_SOURCE = /\.(ts|tsx|mts|cts)$/;

/** tsx's loader by its file URL (a child's working directory may be anywhere); its bare name where tsx is not installed (a production image). */
function tsxLoader() {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return 'tsx';
  }
}

/** node's arguments that run this repository's TypeScript: tsx, and workspace packages resolved to their src/. */
export const SOURCE_NODE_ARGS = Object.freeze([`--conditions=${SOURCE_CONDITION}`, '--import', tsxLoader()]);

/** Workspaces that compile to dist/: those whose package.json exports name the source condition. */
export function compiledWorkspaces(root = ROOT) {
  const { workspaces = [] } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const dirs = [];
  for (const pattern of workspaces) {
    const candidates = pattern.endsWith('/*')
      ? readdirSync(join(root, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => join(root, pattern.slice(0, -2), entry.name))
      : [join(root, pattern)];
    for (const dir of candidates) {
      const manifest = join(dir, 'package.json');
      if (existsSync(manifest) && JSON.stringify(JSON.parse(readFileSync(manifest, 'utf8')).exports ?? {}).includes(`"${SOURCE_CONDITION}"`)) dirs.push(dir);
    }
  }
  return dirs;
}

/** Every file under `dir`, recursively, as paths relative to it. */
function filesUnder(dir, prefix = '') {
  const files = [];
  if (!existsSync(join(dir, prefix))) return files;
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) files.push(...filesUnder(dir, path));
    else files.push(path);
  }
  return files;
}

/**
 * The files under a workspace's src/ that the compiler does not emit but the code reads beside
 * itself at run time (SQL migrations and their journal): the build copies them to dist/src/.
 */
export function sourceAssets(workspace) {
  return filesUnder(join(workspace, 'src')).filter((path) => !TS_SOURCE.test(path));
}

function newestSource(workspace) {
  const newest = { path: '', mtimeMs: 0 };
  for (const path of filesUnder(join(workspace, 'src')).filter((file) => TS_SOURCE.test(file)).map((file) => join(workspace, 'src', file)).concat(join(workspace, 'tsconfig.json'))) {
    const mtimeMs = statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (mtimeMs > newest.mtimeMs) Object.assign(newest, { path, mtimeMs });
  }
  return newest;
}

function staleAsset(workspace) {
  for (const path of sourceAssets(workspace)) {
    const copy = statSync(join(workspace, 'dist', 'src', path), { throwIfNoEntry: false });
    if (!copy || copy.mtimeMs < statSync(join(workspace, 'src', path)).mtimeMs) return join(workspace, 'src', path);
  }
  return undefined;
}

/**
 * Whether the compiled build can run: every compiled workspace has been built (its tsbuildinfo
 * exists) since its newest TypeScript file under src/ (or its tsconfig.json) last changed, and
 * its assets are copied. `stale` says why not, one line per workspace.
 */
export function buildState(root = ROOT) {
  const workspaces = compiledWorkspaces(root);
  if (workspaces.length === 0) return { fresh: false, stale: [`no workspace exports compiled code under the "${SOURCE_CONDITION}" condition`] };
  const stale = [];
  for (const dir of workspaces) {
    // A deployment without sources (a container image) has nothing the build could be older than.
    if (!existsSync(join(dir, 'src'))) continue;
    const built = statSync(join(dir, BUILD_INFO), { throwIfNoEntry: false });
    if (!built) {
      stale.push(`${relative(root, dir)} is not built`);
      continue;
    }
    const newest = newestSource(dir);
    if (newest.mtimeMs > built.mtimeMs) {
      stale.push(`${relative(root, newest.path)} changed after the build`);
      continue;
    }
    const asset = staleAsset(dir);
    if (asset) stale.push(`${relative(root, asset)} is not copied to dist/`);
  }
  return { fresh: stale.length === 0, stale };
}

/** How to start `agora`: `node <main> <command>` (compiled), or through tsx with `why` it cannot be compiled. */
export function agoraLauncher(env = process.env) {
  if (env[FROM_SOURCE_ENV] === '1') return sourceLauncher(`${FROM_SOURCE_ENV}=1`);
  if (!existsSync(COMPILED_MAIN)) return sourceLauncher('apps/agora is not built');
  if (env[FROM_SOURCE_ENV] === '0') return compiledLauncher(`${FROM_SOURCE_ENV}=0`);
  const state = buildState();
  if (!state.fresh) return sourceLauncher(state.stale[0]);
  return compiledLauncher('the build is current');
}

function compiledLauncher(why) {
  return { node: process.execPath, nodeArgs: [], main: COMPILED_MAIN, compiled: true, why };
}

function sourceLauncher(why) {
  return { node: process.execPath, nodeArgs: [...SOURCE_NODE_ARGS], main: SOURCE_MAIN, compiled: false, why };
}

/** The full argument list for `launcher.node`: node's arguments, the entry, then the command's. */
export function launchArgs(launcher, args) {
  return [...launcher.nodeArgs, launcher.main, ...args];
}
