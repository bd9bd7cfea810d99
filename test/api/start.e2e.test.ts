import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agoraLauncher, launchArgs } from '@agora/cli/launch';
import { createTestDatabase, postgresBackend, freePort } from '@agora/platform/testing';

const launcher = agoraLauncher();


interface Started {
  child: ChildProcess;
  output: () => string;
  readyMs: number;
}

/** `agora start` as a user runs it: a child process, polled until /health/ready answers. */
async function startAgora(env: Record<string, string>, port: number): Promise<Started> {
  const began = Date.now();
  const child = spawn(launcher.node, launchArgs(launcher, ['start']), {
    env: { ...process.env, AGORA_LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = began + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`agora start exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
      if (res.status === 200) return { child, output: () => output, readyMs: Date.now() - began };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGKILL');
  throw new Error(`not ready within 60 s:\n${output}`);
}

async function stopAgora(started: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => resolve(code)));
  started.child.kill('SIGTERM');
  return exited;
}

async function productCount(port: number): Promise<{ total: number; categories: Set<string> }> {
  let cursor: string | null = null;
  let total = 0;
  const categories = new Set<string>();
  do {
    const res: Response = await fetch(`http://127.0.0.1:${port}/api/v1/products?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as { items: { category: string }[]; nextCursor: string | null };
    total += page.items.length;
    for (const p of page.items) categories.add(p.category);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return { total, categories };
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('agora start (embedded PGlite)', () => {
  it('comes up ready with >= 1,000 demo products, prints the URL and admin, and reuses its data on restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'agora-start-'));
    dirs.push(dataDir);
    const port = await freePort();
    const env = { AGORA_DATA_DIR: dataDir };

    const first = await startAgora(env, port);
    expect(first.output()).toContain(`http://localhost:${port}`);
    expect(first.output()).toMatch(/admin:\s+admin@agora\.local \/ \S+/);
    const password = /admin@agora\.local \/ (\S+)/.exec(first.output())?.[1] ?? '';
    const seeded = await productCount(port);
    expect(seeded.total).toBeGreaterThanOrEqual(1000);
    expect(seeded.categories.size).toBeGreaterThanOrEqual(10);
    const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@agora.local', password }),
    });
    expect(login.status).toBe(200);
    expect(await stopAgora(first)).toBe(0);

    const second = await startAgora(env, port);
    const again = await productCount(port);
    expect(again.total).toBe(seeded.total);
    expect(second.output()).toContain(`admin@agora.local / ${password}`);
    expect(await stopAgora(second)).toBe(0);
  }, 180_000);
});

describe.runIf(await postgresBackend.available())('agora start with DATABASE_URL (PostgreSQL)', () => {
  it('uses PostgreSQL and seeds it once', async () => {
    const database = await createTestDatabase('agora_start');
    const dataDir = mkdtempSync(join(tmpdir(), 'agora-start-pg-'));
    dirs.push(dataDir);
    const port = await freePort();
    const env = { AGORA_DATA_DIR: dataDir, DATABASE_URL: database.url, AGORA_ADMIN_EMAIL: 'ops@example.com', AGORA_ADMIN_PASSWORD: 'ops-password-1' };
    try {
      const first = await startAgora(env, port);
      expect(first.output()).toContain('PostgreSQL at');
      const seeded = await productCount(port);
      expect(seeded.total).toBeGreaterThanOrEqual(1000);
      expect(await stopAgora(first)).toBe(0);
      const second = await startAgora(env, port);
      expect((await productCount(port)).total).toBe(seeded.total);
      expect(await stopAgora(second)).toBe(0);
    } finally {
      await database.drop();
    }
  }, 180_000);
});

describe('agora start configuration', () => {
  it('stops with a message naming a bad variable', async () => {
    const child = spawn(launcher.node, launchArgs(launcher, ['start']), { env: { ...process.env, PORT: 'eighty' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(err).toContain('PORT');
  });
});
