#!/usr/bin/env node
// `agora`: the compiled CLI (dist/src/main.js) in this very process when the build is present and
// current — one plain node process, no wrapper; otherwise the TypeScript sources through tsx in a
// child process, after a one-line notice (`npm run build` compiles them).
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { FROM_SOURCE_ENV, agoraLauncher, launchArgs } from './launch.js';

const launcher = agoraLauncher();
if (launcher.compiled) {
  await import(pathToFileURL(launcher.main).href);
} else {
  if (process.env[FROM_SOURCE_ENV] !== '1') process.stderr.write(`agora: running the TypeScript sources through tsx (${launcher.why}); \`npm run build\` compiles them\n`);
  const child = spawn(launcher.node, launchArgs(launcher, process.argv.slice(2)), { stdio: 'inherit' });
  // The child drains on these itself; passing them on keeps a supervisor's SIGTERM from orphaning it.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
