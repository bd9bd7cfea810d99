import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { agoraLauncher, launchArgs } from '@agora/cli/launch';

const REPORT_KEYS = ['scenario', 'checkoutsPerSec', 'p50Ms', 'p99Ms', 'errors', 'baselineReqPerSec'] as const;
/** The small ring run: 4,000 keys over 4 nodes, then a fifth. */
const RING_SMOKE_MAX_OVER_MEAN = 1.15;
/** Moved share within this of the ideal 1/5 (its sampling spread at 4,000 keys is ~0.6 points). */
const RING_SMOKE_MOVED_TOLERANCE = 0.04;

/** `agora bench checkout --json` as a user runs it; resolves with its exit code and output. */
function runBench(args: string[], env: NodeJS.ProcessEnv, killAfterMs = 150_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const launcher = agoraLauncher();
    const child = spawn(launcher.node, launchArgs(launcher, ['bench', ...args]), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), killAfterMs);
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

  it('runs a tiny cache benchmark (cache on and off, policies replayed) ending with one JSON line', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of Object.keys(env)) if (name === 'DATABASE_URL' || name.endsWith('_DATABASE_URL') || name === 'REDIS_URL' || name === 'NATS_URL') delete env[name];
    const args = ['cache', '--json', '--clients', '2', '--duration', '1', '--warmup', '0', '--baseline-duration', '1', '--products', '30'];
    // Two starts of `agora start` on embedded storage: slower than the other cases on a busy machine.
    const { code, stdout, stderr } = await runBench(args, env, 220_000);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '') as Record<string, unknown>;
    expect(report).toMatchObject({ scenario: 'cache', errors: 0, products: 30, storage: 'embedded' });
    for (const key of ['reqPerSecCached', 'reqPerSecUncached', 'baselineReqPerSec', 'pageReqPerSecCached']) expect(report[key], key).toBeGreaterThan(0);
    for (const policy of ['lru', 'lfu', 'fifo']) expect((report.hitRatio as Record<string, number>)[policy], policy).toBeGreaterThan(0);
  }, 240_000);

  it('refuses an unknown scenario with usage', async () => {
    const { code, stderr } = await runBench(['teleport'], { ...process.env });
    expect(code).toBe(2);
    expect(stderr).toContain('usage: agora bench checkout');
  });
});

describe('agora bench ring (smoke, in process)', () => {
  it('a small run ends with one JSON line, consistent schemes moving keys only to the newcomer', async () => {
    const nodes = 4;
    const { code, stdout, stderr } = await runBench(['ring', '--json', '--nodes', String(nodes), '--keys', '4000'], { ...process.env });
    expect(code, stderr).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    const report = JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>;
    expect(report).toMatchObject({ scenario: 'ring', nodes, keys: 4000 });
    for (const scheme of ['ring', 'rendezvous', 'jump']) {
      const figures = report[scheme] as { maxOverMean: number; movedFraction: number; movedElsewhere: number; lookupsPerSec: number };
      // 4,000 keys over 4 nodes: a node's count spreads ~3.5% (sampling, and the ring's own), so 1.15 is >4σ.
      expect(figures.maxOverMean, scheme).toBeGreaterThanOrEqual(1);
      expect(figures.maxOverMean, scheme).toBeLessThan(RING_SMOKE_MAX_OVER_MEAN);
      expect(Math.abs(figures.movedFraction - 1 / (nodes + 1)), scheme).toBeLessThan(RING_SMOKE_MOVED_TOLERANCE);
      expect(figures.movedElsewhere, scheme).toBe(0);
      expect(figures.lookupsPerSec, scheme).toBeGreaterThan(0);
    }
    expect(stdout).toContain('lookups/s');
  }, 60_000);
});
