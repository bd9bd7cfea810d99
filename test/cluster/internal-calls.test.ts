import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnvironment } from '@agora/bench';
import { agoraLauncher, launchArgs } from '@agora/cli/launch';
import { CALLER_ASSERTION_HEADER, CALLER_ASSERTION_LIMITS, CallerAssertionSigner, type Caller } from '@agora/platform';
import { clusterServersAvailable, startTestCluster, type TestCluster } from './support.js';

/**
 * Zero-trust service calls on real processes (docs/security.md): an inventory instance reached
 * directly on its port, past the gateway, answers only a valid caller assertion addressed to it,
 * listens on loopback only although HOST says 0.0.0.0, and the gateway lets no internal header
 * from outside through.
 */

const ADMIN = { email: 'internal-calls-admin@test.agora', password: 'internal-calls-password-1' };
const SECRET = randomBytes(48).toString('base64url');
const SKU = `ZT-${randomUUID().slice(0, 8)}`;
const STOCK = 5;
/** `agora service` without the secret must stop before it connects to anything. */
const MISSING_SECRET_EXIT_MS = 60_000;
/** The exit code `agora` uses for a configuration error (EX_CONFIG). */
const EX_CONFIG = 78;

const signer = new CallerAssertionSigner(SECRET);
const admin: Caller = { userId: randomUUID(), role: 'admin' };

describe.runIf(await clusterServersAvailable())('service ports on real processes', () => {
  let tc: TestCluster;
  let inventory: string;

  /** A request straight to the inventory instance's port. */
  const direct = (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
    fetch(`${inventory}${path}`, { method, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const viaGateway = (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
    fetch(`${tc.gateway}${path}`, { method, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const available = async (): Promise<number> => ((await (await viaGateway('GET', `/api/v1/inventory/${SKU}`)).json()) as { available: number }).available;
  const asserted = async (caller: Caller | undefined, options: { audience?: string; signer?: CallerAssertionSigner } = {}) => ({
    [CALLER_ASSERTION_HEADER]: await (options.signer ?? signer).assertion('gateway', options.audience ?? 'inventory', caller),
  });

  beforeAll(async () => {
    tc = await startTestCluster({ gateways: 1, services: { identity: 1, inventory: 1 }, admin: ADMIN, env: { AGORA_INTERNAL_SECRET: SECRET, HOST: '0.0.0.0' } });
    inventory = tc.cluster.member('inventory-1').url ?? '';
    const set = await viaGateway('PUT', `/api/v1/admin/inventory/${SKU}`, { authorization: `Bearer ${tc.cluster.adminToken}` }, { onHand: STOCK });
    expect(set.status).toBe(200);
  }, 420_000);
  afterAll(async () => {
    await tc?.stop();
  }, 120_000);

  it('listens on 127.0.0.1 only, although HOST is 0.0.0.0', async () => {
    const url = new URL(inventory);
    expect(url.hostname).toBe('127.0.0.1');
    // All of 127/8 is this machine: a socket bound to 0.0.0.0 would answer on 127.0.0.2 too.
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.2', port: Number(url.port) });
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(outcome).toBe('ECONNREFUSED');
  });

  it('refuses a direct stock write claiming the admin role in bare headers: 401, stock unchanged', async () => {
    const res = await direct('PUT', `/inventory/${SKU}`, { 'x-agora-user-id': admin.userId, 'x-agora-user-role': 'admin' }, { onHand: 9_999 });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await res.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await available()).toBe(STOCK);
  });

  it('refuses forged, expired and misaddressed assertions (401) and a value that is no token (400)', async () => {
    const past = Date.now() - (CALLER_ASSERTION_LIMITS.ttlSeconds + CALLER_ASSERTION_LIMITS.clockSkewSeconds + 5) * 1000;
    const cases: [string, Record<string, string>, number][] = [
      ['forged', await asserted(admin, { signer: new CallerAssertionSigner(randomBytes(48).toString('base64url')) }), 401],
      ['expired', await asserted(admin, { signer: new CallerAssertionSigner(SECRET, { now: () => past }) }), 401],
      ['for catalog', await asserted(admin, { audience: 'catalog' }), 401],
      ['malformed', { [CALLER_ASSERTION_HEADER]: 'admin' }, 400],
    ];
    for (const [what, headers, status] of cases) {
      const res = await direct('PUT', `/inventory/${SKU}`, { ...headers, 'x-agora-user-role': 'admin' }, { onHand: 9_999 });
      expect(res.status, what).toBe(status);
      expect(res.headers.get('content-type'), what).toContain('application/problem+json');
    }
    expect(await available()).toBe(STOCK);
  });

  it('answers a valid assertion, and health and metrics without one', async () => {
    const level = await direct('GET', `/inventory/${SKU}/level`, await asserted(admin));
    expect(level.status).toBe(200);
    expect(await level.json()).toMatchObject({ sku: SKU, onHand: STOCK });
    const customer = await direct('PUT', `/inventory/${SKU}`, await asserted({ userId: randomUUID(), role: 'customer' }), { onHand: 9_999 });
    expect(customer.status).toBe(403);
    for (const path of ['/health/live', '/health/ready', '/metrics']) expect((await direct('GET', path)).status, path).toBe(200);
    expect((await direct('GET', `/inventory/${SKU}`)).status).toBe(401);
  });

  it('lets no internal header sent to the gateway grant anything', async () => {
    const email = `zt-${randomUUID().slice(0, 8)}@test.agora`;
    const registered = await viaGateway('POST', '/api/v1/auth/register', {}, { email, password: 'customer-password-1', name: 'Zoe' });
    expect(registered.status).toBe(201);
    const { token } = (await registered.json()) as { token: string };
    const spoofs: Record<string, string>[] = [
      { 'x-agora-user-id': admin.userId, 'x-agora-user-role': 'admin' },
      await asserted(admin),
      { ...(await asserted(admin)), authorization: `Bearer ${token}` },
      { 'x-agora-user-role': 'admin', authorization: `Bearer ${token}` },
    ];
    for (const headers of spoofs) {
      const res = await viaGateway('PUT', `/api/v1/admin/inventory/${SKU}`, headers, { onHand: 9_999 });
      expect([401, 403], JSON.stringify(Object.keys(headers))).toContain(res.status);
    }
    const me = await viaGateway('GET', '/api/v1/me', { ...(await asserted(admin, { audience: 'identity' })), 'x-agora-user-role': 'admin', authorization: `Bearer ${token}` });
    expect(await me.json()).toMatchObject({ email, role: 'customer' });
    expect(await available()).toBe(STOCK);
  });
});

describe('agora service without AGORA_INTERNAL_SECRET', () => {
  it('stops with a configuration error naming the variable', async () => {
    const launcher = agoraLauncher();
    const child = spawn(launcher.node, launchArgs(launcher, ['service', 'inventory']), {
      env: { ...baseEnvironment(process.env), AGORA_JWT_SECRET: randomBytes(48).toString('base64url'), AGORA_DATA_DIR: '/nonexistent/agora-no-secret' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), MISSING_SECRET_EXIT_MS);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    clearTimeout(timer);
    expect(code, stderr).toBe(EX_CONFIG);
    expect(stderr).toMatch(/AGORA_INTERNAL_SECRET/);
  }, MISSING_SECRET_EXIT_MS + 10_000);
});
