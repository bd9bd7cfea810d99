#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError } from '@agora/kernel';
import { createLogger } from '@agora/platform';
import { createAdmin } from '@agora/identity';
import { loadConfig, type AgoraConfig } from './config.js';
import { createAgora, migrateAll, StorageSet } from './compose.js';
import { ensureAdminUser, seedDemoData } from './seed.js';

const USAGE = `agora — the Agora e-commerce platform

usage:
  agora start                      every service, the gateway and the web app in one process
  agora migrate                    apply every service's migrations
  agora seed                       load the demo catalog and stock (only into an empty catalog)
  agora admin create --email E --password P [--name N]
                                   create an admin (or promote and reset an existing user)

configuration is by environment: PORT, AGORA_DATA_DIR, DATABASE_URL, <SERVICE>_DATABASE_URL,
AGORA_ADMIN_EMAIL, AGORA_ADMIN_PASSWORD, AGORA_JWT_SECRET, AGORA_RATE_LIMITS, AGORA_LOG_LEVEL
(see README.md).`;

function storageLabel(config: AgoraConfig): string {
  if (!config.databaseUrl) return `embedded PGlite in ${config.dataDir}`;
  const url = new URL(config.databaseUrl);
  return `PostgreSQL at ${url.host}${url.pathname}`;
}

async function start(config: AgoraConfig): Promise<void> {
  const started = Date.now();
  const agora = await createAgora(config);
  const { logger } = agora;
  const admin = await ensureAdminUser(config, agora.storages);
  if (config.seedDemoData) await seedDemoData(config, agora.storages, logger);
  await agora.gateway.listen({ port: config.port, host: config.host });
  const address = agora.gateway.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://localhost:${port}`;
  process.stdout.write(
    [
      '',
      `  Agora is running at ${url}  (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
      `  storage:  ${storageLabel(config)}`,
      `  API:      ${url}/api/v1/products   docs: ${url}/api/docs`,
      admin.demo ? `  admin:    ${admin.email} / ${admin.password}   (demo credentials; set AGORA_ADMIN_EMAIL/AGORA_ADMIN_PASSWORD to choose)` : `  admin:    ${admin.email} (from AGORA_ADMIN_EMAIL)`,
      '',
    ].join('\n') + '\n',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining requests');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    try {
      await agora.close();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

async function withStorages<T>(config: AgoraConfig, work: (storages: StorageSet) => Promise<T>): Promise<T> {
  const storages = new StorageSet(config);
  try {
    await migrateAll(storages);
    return await work(storages);
  } finally {
    await storages.close();
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 1 : 0;
  }
  const config = loadConfig();
  switch (command) {
    case 'start':
      await start(config);
      return -1;
    case 'migrate':
      await withStorages(config, async () => undefined);
      process.stdout.write(`migrations applied (${storageLabel(config)})\n`);
      return 0;
    case 'seed': {
      const result = await withStorages(config, (storages) => seedDemoData(config, storages, createLogger('agora', config.logLevel)));
      process.stdout.write(result.products > 0 ? `seeded ${result.products} products, ${result.stockRows} stock rows\n` : 'catalog already has products; nothing seeded\n');
      return 0;
    }
    case 'admin': {
      const { values, positionals } = parseArgs({ args: [...rest], options: { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' } }, allowPositionals: true });
      if (positionals[0] !== 'create' || !values.email || !values.password) {
        process.stderr.write('usage: agora admin create --email E --password P [--name N]\n');
        return 2;
      }
      const { email, password } = values;
      const user = await withStorages(config, async (storages) => createAdmin(await storages.forService('identity'), { email, password, name: values.name ?? 'Admin' }));
      process.stdout.write(`admin ${user.email} (${user.id}) is ready\n`);
      return 0;
    }
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`agora failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
