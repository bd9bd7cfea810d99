import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../apps/agora/src/main.ts', import.meta.url));

const REPORT_KEYS = ['scenario', 'checkoutsPerSec', 'p50Ms', 'p99Ms', 'errors', 'baselineReqPerSec'] as const;

/** `agora bench checkout --json` as a user runs it; resolves with its exit code and output. */
function runBench(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'bench', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), 150_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('agora bench checkout (smoke, embedded storage)', () => {
  it('runs a short checkout benchmark and ends its output with one JSON report line', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of Object.keys(env)) if (name === 'DATABASE_URL' || name.endsWith('_DATABASE_URL')) delete env[name];
    const { code, stdout, stderr } = await runBench(['checkout', '--json', '--buyers', '4', '--duration', '2', '--warmup', '1', '--baseline-duration', '1', '--skus', '2'], env);
    expect(code, stderr).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    const report = JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>;
    for (const key of REPORT_KEYS) expect(report, key).toHaveProperty(key);
    expect(report.scenario).toBe('checkout');
    expect(report.storage).toBe('embedded');
    expect(report.checkouts).toBeGreaterThan(0);
    expect(report.errors).toBe(0);
    expect(report.unitsSold).toBe(report.unitsOrdered);
    expect(typeof report.baselineReqPerSec === 'number' && report.baselineReqPerSec > 0).toBe(true);
    expect(stdout).toContain('checkouts/s');
  }, 180_000);

  it('refuses an unknown scenario with usage', async () => {
    const { code, stderr } = await runBench(['teleport'], { ...process.env });
    expect(code).toBe(2);
    expect(stderr).toContain('usage: agora bench checkout');
  });
});
