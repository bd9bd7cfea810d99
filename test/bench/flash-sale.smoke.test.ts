import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { agoraLauncher, launchArgs } from '@agora/cli/launch';

/** A tiny run: the figures mean nothing here; the shape of the report and the counts do. */
const UNITS = 10;
const ARGS = ['flash-sale', '--json', '--users', '30', '--attempts', '80', '--units', String(UNITS), '--clients', '4', '--duration', '1', '--baseline-duration', '1'];
const RUN_TIMEOUT_MS = 150_000;
const REPORT_KEYS = ['scenario', 'attemptsPerSec', 'sellOutMs', 'p50Ms', 'p99Ms', 'accepted', 'ordersCreated', 'oversold', 'undersold', 'catalogP99Ratio', 'baselineReqPerSec', 'naive'] as const;

function runBench(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const launcher = agoraLauncher();
    const child = spawn(launcher.node, launchArgs(launcher, ['bench', ...args]), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('agora bench flash-sale (smoke, embedded storage)', () => {
  it(`sells exactly ${UNITS} units to a tiny stampede and ends its output with one JSON report line`, async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of Object.keys(env)) if (name === 'DATABASE_URL' || name.endsWith('_DATABASE_URL') || name === 'REDIS_URL' || name === 'NATS_URL') delete env[name];
    const { code, stdout, stderr } = await runBench(ARGS, env);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '') as Record<string, unknown>;
    for (const key of REPORT_KEYS) expect(report, key).toHaveProperty(key);
    expect(report).toMatchObject({ scenario: 'flash-sale', accepted: UNITS, ordersCreated: UNITS, oversold: 0, undersold: 0, storage: 'embedded', naive: { attemptsPerSec: null, oversold: null } });
    expect(report.attemptsPerSec).toBeGreaterThan(0);
    expect(report.baselineReqPerSec).toBeGreaterThan(0);
    expect(stdout).toContain('attempts/s');
  }, RUN_TIMEOUT_MS + 30_000);
});
