import { spawn, type ChildProcess } from 'node:child_process';
import { agoraLauncher, launchArgs } from '@agora/cli/launch';
import { freePort } from '@agora/platform/testing';
import { Api, uniqueEmail } from '../support/http.js';

/**
 * What chaos tests share: `agora start` as a real child process (so it can be SIGKILLed), a
 * shopper's and an admin's calls through the public API, and polling helpers. Processes are
 * started with a clean environment: nothing from the test runner's AGORA_* or *_URL leaks in.
 */

export const CHAOS_ADMIN = { email: 'chaos-admin@example.com', password: 'chaos-admin-password-1' };

/** The settings every chaos process gets: fixed secrets (tokens survive restarts), no demo data, no rate limits. */
export function baseEnv(databaseUrl: string, dataDir: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    AGORA_DATA_DIR: dataDir,
    AGORA_JWT_SECRET: 'chaos-secret-chaos-secret-chaos-secret-0123456789',
    AGORA_PAYMENT_WEBHOOK_SECRET: 'chaos-webhook-secret-0123456789abcdef',
    AGORA_ADMIN_EMAIL: CHAOS_ADMIN.email,
    AGORA_ADMIN_PASSWORD: CHAOS_ADMIN.password,
    AGORA_SEED: 'off',
    AGORA_DEMO_PRODUCTS: '0',
    AGORA_RATE_LIMITS: 'off',
    AGORA_LOG_LEVEL: 'warn',
  };
}

/** The runner's environment minus anything that configures Agora. */
function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (key.startsWith('AGORA_') || key.endsWith('DATABASE_URL') || ['NATS_URL', 'REDIS_URL', 'PORT', 'HOST'].includes(key)) continue;
    env[key] = value;
  }
  return env;
}



export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AgoraProcess {
  child: ChildProcess;
  baseUrl: string;
  api: Api;
  output(): string;
  /** Settles when the process has exited, however it died. */
  exited: Promise<Exit>;
  /** SIGTERM (graceful) and wait for the exit. */
  stop(): Promise<Exit>;
  /** SIGKILL, if still alive, and wait for the exit. */
  kill(): Promise<Exit>;
}

/** Starts `agora start` and waits until /health/ready answers 200. */
export async function startAgora(env: Record<string, string>, options: { readyTimeoutMs?: number } = {}): Promise<AgoraProcess> {
  const port = await freePort();
  const launcher = agoraLauncher();
  const child = spawn(launcher.node, launchArgs(launcher, ['start']), {
    env: { ...inheritedEnv(), ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const baseUrl = `http://127.0.0.1:${port}`;
  const proc: AgoraProcess = {
    child,
    baseUrl,
    api: new Api(baseUrl),
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  let dead = false;
  void exited.then(() => (dead = true));
  while (Date.now() < deadline) {
    if (dead) throw new Error(`agora start exited before it was ready (${JSON.stringify(await exited)}):\n${output}`);
    try {
      const res = await fetch(`${baseUrl}/health/ready`);
      if (res.status === 200) return proc;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  await proc.kill();
  throw new Error(`agora start was not ready in time:\n${output}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns something other than undefined; throws with `describe()` on timeout. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, describe: () => string | Promise<string>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms: ${await describe()}`);
    await sleep(everyMs);
  }
}

export const ADDRESS = { name: 'Chaos Shopper', line1: '1 Crash Street', city: 'Lisbon', postalCode: '1000-001', country: 'PT' };

/** An admin's and a shopper's calls through the public API, as any outside client makes them. */
export const shop = {
  async adminToken(api: Api): Promise<string> {
    const res = await api.post<{ token: string }>('/api/v1/auth/login', CHAOS_ADMIN);
    if (res.status !== 200) throw new Error(`admin login answered ${res.status}: ${res.text}`);
    return res.body.token;
  },

  /** A product with one variant `sku` at `price` minor units, and `onHand` units of stock. */
  async createSku(api: Api, token: string, sku: string, price: number, onHand: number): Promise<void> {
    const product = await api.post(
      '/api/v1/admin/products',
      { name: `Chaos ${sku}`, description: 'made by a chaos test', category: 'chaos', variants: [{ sku, title: 'Default', price: { amount: price, currency: 'USD' } }] },
      { token },
    );
    if (product.status !== 201) throw new Error(`creating product ${sku} answered ${product.status}: ${product.text}`);
    const stock = await api.put(`/api/v1/admin/inventory/${encodeURIComponent(sku)}`, { onHand }, { token });
    if (stock.status !== 200) throw new Error(`setting stock of ${sku} answered ${stock.status}: ${stock.text}`);
  },

  async registerShopper(api: Api): Promise<{ token: string; userId: string }> {
    const res = await api.post<{ token: string; user: { id: string } }>('/api/v1/auth/register', { email: uniqueEmail('chaos'), password: 'shopper-password-1', name: 'Chaos Shopper' });
    if (res.status !== 201) throw new Error(`register answered ${res.status}: ${res.text}`);
    return { token: res.body.token, userId: res.body.user.id };
  },

  async addToCart(api: Api, token: string, sku: string, quantity: number): Promise<void> {
    const res = await api.post('/api/v1/cart/items', { sku, quantity }, { token });
    if (res.status !== 200) throw new Error(`adding ${sku} to the cart answered ${res.status}: ${res.text}`);
  },

  checkout(api: Api, token: string, idempotencyKey: string, cardToken: string) {
    return api.post('/api/v1/checkout', { payment: { method: 'card', token: cardToken }, shippingAddress: ADDRESS }, { token, headers: { 'idempotency-key': idempotencyKey } });
  },
};
