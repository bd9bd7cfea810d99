#!/usr/bin/env node
// Compiles every workspace with `tsc -b` (incremental) and copies the files the code reads beside
// itself (SQL migrations) to dist/src/, under a lock, so the test suite's global
// setup, `npm start` and `npm run build` running at once never write dist/ twice at the same time.
//
//   node apps/agora/bin/build.js           build when the build is stale (buildState) and
//                                          AGORA_FROM_SOURCE is unset; type errors
//                                          are reported but do not fail it while tsc emitted the JS
//   node apps/agora/bin/build.js --force   always run tsc -b; fail on type errors (`npm run build`)
//
// Plain JavaScript for the same reason as launch.js; types in build.d.ts.
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { FROM_SOURCE_ENV, ROOT, buildState, compiledWorkspaces, sourceAssets } from './launch.js';

const LOCK = join(ROOT, 'node_modules', '.cache', 'agora-build.lock');
/** How long to wait for another process's build before giving up. */
export const BUILD_LOCK_WAIT_MS = 15 * 60_000;
const BUILD_LOCK_POLL_MS = 500;
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Takes the build lock (a file holding the builder's pid; a dead builder's lock is taken over); says whether another build held it first. */
async function acquireLock() {
  mkdirSync(join(LOCK, '..'), { recursive: true });
  const deadline = Date.now() + BUILD_LOCK_WAIT_MS;
  let waited = false;
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return { waited, release: () => rmSync(LOCK, { force: true }) };
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(LOCK, 'utf8').trim() || 0);
    } catch (err) {
      if (err.code === 'ENOENT') continue; // released just now
      throw err;
    }
    if (holder > 0 && !alive(holder)) {
      rmSync(LOCK, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another build (pid ${holder}) still holds ${LOCK} after ${BUILD_LOCK_WAIT_MS} ms`);
    waited = true;
    await sleep(BUILD_LOCK_POLL_MS);
  }
}

function runTsc(quiet) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSC, '-b'], { cwd: ROOT, stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    let output = '';
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

/** Copies each workspace's assets (launch.js's sourceAssets) from src/ to dist/src/; returns how many. */
export function copyAssets() {
  let copied = 0;
  for (const workspace of compiledWorkspaces()) {
    for (const path of sourceAssets(workspace)) {
      const target = join(workspace, 'dist', 'src', path);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(join(workspace, 'src', path), target);
      copied++;
    }
  }
  return copied;
}

/**
 * Builds when needed. Returns what happened: `built` (tsc ran), `code` (tsc's exit status), the
 * state afterwards and, with `quiet`, tsc's output.
 */
export async function ensureBuild({ force = false, quiet = false, log = (line) => process.stderr.write(`${line}\n`) } = {}) {
  const before = buildState();
  // AGORA_FROM_SOURCE set is a choice already made (1: the sources, 0: the build as it is).
  if (!force && (before.fresh || process.env[FROM_SOURCE_ENV] !== undefined)) return { built: false, code: 0, state: before, output: '' };
  const { waited, release } = await acquireLock();
  try {
    // Only the assets may be missing (after a bare `tsc -b`).
    copyAssets();
    const now = buildState();
    // A build that started after we asked is as current as ours would be: sources edited since
    // then would make every waiter build again, one after the other.
    if (!force && (now.fresh || waited)) return { built: false, code: 0, state: now, output: '' };
    const started = Date.now();
    log(`build: tsc -b${force ? '' : ` (${now.stale[0]})`} ...`);
    const { code, output } = await runTsc(quiet);
    copyAssets();
    const state = buildState();
    log(`build: tsc -b ${code === 0 ? 'done' : `exited with ${code}`} in ${((Date.now() - started) / 1000).toFixed(1)} s${state.fresh ? '' : `; still stale: ${state.stale[0]}`}`);
    return { built: true, code, state, output };
  } finally {
    release();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const force = process.argv.includes('--force');
  const { code, state } = await ensureBuild({ force });
  // --force (npm run build) fails on type errors; otherwise emitted JS is enough to run.
  process.exit(force ? code : state.fresh ? 0 : code || 1);
}
