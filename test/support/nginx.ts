import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderNginxConfig } from '@agora/cli';
import { freePort, servicesRequired } from '@agora/platform/testing';

/**
 * An nginx of a test's own (Debian's /usr/sbin/nginx) in front of a cluster's gateways, configured
 * from deploy/nginx/agora.conf.template by `renderNginxConfig` (what `agora nginx-config` prints):
 * its config, logs, pid and temp dirs in a temp dir, on a free port — never the system's service.
 */

export const NGINX = '/usr/sbin/nginx';

export const NGINX_LIMITS = {
  readyTimeoutMs: 30_000,
  pollMs: 100,
  /** SIGQUIT (graceful) first, SIGKILL to the group after this. */
  stopGraceMs: 5_000,
  outputTailChars: 200_000,
} as const;

export interface Spawned {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  /** Signals the whole process group. */
  kill(signal: NodeJS.Signals): void;
}

/** A child in a process group of its own, its output kept (the tail), killed with the test process. */
export function spawnGroup(command: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Spawned {
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-NGINX_LIMITS.outputTailChars);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const kill = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  process.once('exit', () => kill('SIGKILL'));
  return { child, exited, output: () => output, kill };
}

/** Like the servers: false where nginx is not installed, a failure when AGORA_REQUIRE_SERVICES=1 (CI installs it). */
export function nginxInstalled(): boolean {
  if (existsSync(NGINX)) return true;
  if (servicesRequired()) throw new Error(`AGORA_REQUIRE_SERVICES=1 but ${NGINX} is not installed (apt-get install nginx)`);
  return false;
}

/** A whole nginx.conf around the rendered template: everything it writes stays in `dir`. */
function standaloneConfig(dir: string, site: string): string {
  return [
    'worker_processes 1;',
    'events { worker_connections 1024; }',
    'http {',
    `  access_log ${join(dir, 'access.log')};`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${join(dir, kind)};`),
    site
      .split('\n')
      .map((line) => `  ${line}`)
      .join('\n'),
    '}',
    '',
  ].join('\n');
}

export interface RunningNginx {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Its temp dir (config, logs). */
  dir: string;
  errorLog(): string;
  stop(): Promise<void>;
}

/** Starts nginx in front of `gatewayUrls` and waits until it answers /health/live through them. */
export async function startNginx(gatewayUrls: readonly string[]): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'agora-nginx-'));
  // nginx's workers run as `nobody` when the master is root: they must reach their temp dirs.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const gateways = gatewayUrls.map((url) => new URL(url).host);
  writeFileSync(join(dir, 'nginx.conf'), standaloneConfig(dir, renderNginxConfig({ listen: `127.0.0.1:${port}`, gateways })));
  const errorLogFile = join(dir, 'error.log');
  const nginx = spawnGroup(NGINX, ['-e', errorLogFile, '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', `daemon off; pid ${join(dir, 'nginx.pid')}; error_log ${errorLogFile};`], process.env);
  const url = `http://127.0.0.1:${port}`;
  const errorLog = () => (existsSync(errorLogFile) ? readFileSync(errorLogFile, 'utf8') : '');
  const stop = async () => {
    nginx.kill('SIGQUIT');
    await Promise.race([nginx.exited, new Promise((resolve) => setTimeout(resolve, NGINX_LIMITS.stopGraceMs))]);
    nginx.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + NGINX_LIMITS.readyTimeoutMs;
  for (;;) {
    const live = await fetch(`${url}/health/live`).then((r) => r.status, () => 0);
    if (live === 200) break;
    if (nginx.child.exitCode !== null || Date.now() > deadline) {
      const why = `nginx did not come up:\n${nginx.output()}\n${errorLog()}`;
      await stop();
      throw new Error(why);
    }
    await new Promise((resolve) => setTimeout(resolve, NGINX_LIMITS.pollMs));
  }
  return { url, dir, errorLog, stop };
}
