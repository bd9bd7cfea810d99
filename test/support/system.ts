import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgora, ensureAdminUser, loadConfig, seedDemoData, type Agora } from '@agora/cli';
import type { TestBackend } from '@agora/platform/testing';

export const ADMIN = { email: 'admin@test.agora', password: 'admin-password-1' };

export interface RunningSystem {
  baseUrl: string;
  agora: Agora;
  stop(): Promise<void>;
}

/**
 * The whole system in one process on a fresh database of the given backend, listening on a real
 * loopback port: API tests speak HTTP to it exactly as a shopper would.
 */
export async function startSystem(
  backend: TestBackend,
  options: { env?: Record<string, string>; demoProducts?: number } = {},
): Promise<RunningSystem> {
  const { storage, release } = await backend.open();
  const dataDir = mkdtempSync(join(tmpdir(), 'agora-api-'));
  const env: Record<string, string> = {
    AGORA_DATA_DIR: dataDir,
    AGORA_JWT_SECRET: 'test-secret-test-secret-test-secret-0123456789',
    AGORA_LOG_LEVEL: 'silent',
    AGORA_ADMIN_EMAIL: ADMIN.email,
    AGORA_ADMIN_PASSWORD: ADMIN.password,
    AGORA_RATE_LIMITS: 'off',
    AGORA_DEMO_PRODUCTS: String(options.demoProducts ?? 0),
    ...options.env,
  };
  const config = loadConfig(env);
  const agora = await createAgora(config, { storage, env });
  await ensureAdminUser(config, agora.storages);
  if (config.demoProducts > 0) await seedDemoData(config, agora.storages, agora.logger);
  await agora.gateway.listen({ port: 0, host: '127.0.0.1' });
  const address = agora.gateway.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('gateway is not listening');
  return {
    baseUrl: `http://127.0.0.1:${address.port}`,
    agora,
    async stop() {
      await agora.close();
      await release();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
