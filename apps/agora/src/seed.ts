import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureAdmin } from '@agora/identity';
import { seedDemoCatalog } from '@agora/catalog';
import { seedDemoStock } from '@agora/inventory';
import type { Logger } from '@agora/platform';
import type { AgoraConfig } from './config.js';
import type { StorageSet } from './compose.js';

export interface AdminCredentials {
  email: string;
  password: string;
  /** True when these are the generated demo credentials (printed at start). */
  demo: boolean;
}

export const DEMO_ADMIN_EMAIL = 'admin@agora.local';

/** The demo admin's password is generated on first start and kept in the data dir (0600). */
function demoAdminCredentials(dataDir: string): AdminCredentials {
  const file = join(dataDir, 'demo-admin.json');
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { email: string; password: string };
    return { ...saved, demo: true };
  }
  mkdirSync(dataDir, { recursive: true });
  const credentials = { email: DEMO_ADMIN_EMAIL, password: randomBytes(12).toString('base64url') };
  writeFileSync(file, `${JSON.stringify(credentials)}\n`, { mode: 0o600 });
  return { ...credentials, demo: true };
}

/** The configured admin (AGORA_ADMIN_*) or the demo one exists after this, created or reset. */
export async function ensureAdminUser(config: AgoraConfig, storages: StorageSet): Promise<AdminCredentials> {
  const credentials = config.admin ? { ...config.admin, demo: false } : demoAdminCredentials(config.dataDir);
  await ensureAdmin(await storages.forService('identity'), { email: credentials.email, password: credentials.password, name: 'Agora Admin' });
  return credentials;
}

/** Demo catalog and stock on first start; a later start finds the products and adds nothing. */
export async function seedDemoData(config: AgoraConfig, storages: StorageSet, logger: Logger): Promise<{ products: number; stockRows: number }> {
  const started = Date.now();
  const catalog = await seedDemoCatalog(await storages.forService('catalog'), { products: config.demoProducts });
  const stockRows = await seedDemoStock(await storages.forService('inventory'), catalog.skus);
  if (catalog.created > 0 || stockRows > 0) {
    logger.info({ products: catalog.created, stockRows, ms: Date.now() - started }, 'seeded demo data');
  }
  return { products: catalog.created, stockRows };
}
