import { ensureBuild } from '@agora/cli/build';

/**
 * Vitest's global setup: compiles the workspaces once before any test file runs (`tsc -b`, a few
 * seconds when nothing changed, skipped when the build is current), so the Agora processes the
 * tests start run as `node apps/agora/dist/src/main.js` with no TypeScript to compile at start
 * (agoraLauncher). Type errors do not stop the run (`npm run typecheck` reports them); a build
 * that could not be made leaves the launchers on the sources through tsx. With AGORA_FROM_SOURCE
 * set (1: the sources, 0: the existing build) nothing is built (ensureBuild).
 */
export async function setup(): Promise<void> {
  const { built, code, state, output } = await ensureBuild({ quiet: true, log: (line) => process.stderr.write(`${line}\n`) });
  if (!built) return;
  if (code !== 0) process.stderr.write(`build: tsc -b reported errors (npm run typecheck shows them all); first lines:\n${output.split('\n').slice(0, 5).join('\n')}\n`);
  if (!state.fresh) process.stderr.write(`build: not current (${state.stale[0]}): test processes run the sources through tsx\n`);
}
