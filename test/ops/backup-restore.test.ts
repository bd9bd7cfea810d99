import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import {
  BACKUP_EXIT,
  createAgora,
  ensureAdminUser,
  loadConfig,
  readManifest,
  runBackup,
  runRestoreCommand,
  type Agora,
  type AgoraConfig,
  type Manifest,
} from '@agora/cli';
import { PostgresStorage, type Storage } from '@agora/platform';
import { TEST_NATS_URL, createTestDatabase, deleteNatsStream, natsAvailable, postgresBackend, uniqueNatsNames } from '@agora/platform/testing';
import { checkInvariants } from '../support/invariants.js';
import { Api, uniqueEmail } from '../support/http.js';
import { ADMIN, WEBHOOK_SECRET } from '../support/system.js';
import { checkoutBody, type CheckoutAnswer, type Order } from '../support/shop.js';

/** Connections per pool: the server's 100 are shared by every suite running beside this one. */
const POOL = 3;
const STOCK = 40;

interface Shopper {
  id: string;
  token: string;
}

type Database = Awaited<ReturnType<typeof createTestDatabase>>;

/** The whole system in this process on the environment's databases and stream, as `agora start` runs it. */
async function startAgora(config: AgoraConfig, env: Record<string, string>): Promise<{ agora: Agora; api: Api }> {
  const agora = await createAgora(config, { env, webRoot: false });
  try {
    await ensureAdminUser(config, agora.storages);
    await agora.gateway.listen({ port: 0, host: '127.0.0.1' });
  } catch (err) {
    await agora.close();
    throw err;
  }
  const address = agora.gateway.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('gateway is not listening');
  return { agora, api: new Api(`http://127.0.0.1:${address.port}`) };
}

function capture(): { io: { stdout(t: string): void; stderr(t: string): void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) }, out, err };
}

/**
 * The disaster-recovery drill on real PostgreSQL and NATS: a shop on four databases of its own
 * (services, inventory apart, orders and carts on two shards) and a stream of its own takes
 * checkouts, a cancel and a declined card; `agora backup`; everything is dropped; `agora restore`;
 * the shop starts again on the restored data, the conservation laws hold, the counts are the
 * manifest's, a restored order reads back and a new checkout goes through.
 */
describe.runIf((await postgresBackend.available()) && (await natsAvailable()))('backup and restore: the DR drill (PostgreSQL + NATS)', () => {
  const databases: Database[] = [];
  const nats = uniqueNatsNames('agora_dr');
  const dataDir = mkdtempSync(join(tmpdir(), 'agora-dr-'));
  const backupDir = join(dataDir, 'backup');
  let env: Record<string, string>;
  let config: AgoraConfig;
  let running: { agora: Agora; api: Api } | undefined;
  let manifest: Manifest;
  const initialStock = new Map<string, number>();
  const kept: { shopper: Shopper; order: Order }[] = [];
  let lost: Order;
  let sku: string;
  let backupMs: number;

  const api = (): Api => (running as { api: Api }).api;
  const register = async (): Promise<Shopper> => {
    const res = await api().post<{ user: { id: string }; token: string }>('/api/v1/auth/register', { email: uniqueEmail('dr'), password: 'correct horse battery', name: 'Shopper' });
    expect(res.status, res.text).toBe(201);
    return { id: res.body.user.id, token: res.body.token };
  };
  const checkout = async (shopper: Shopper, card: string, quantity = 1) => {
    const add = await api().post('/api/v1/cart/items', { sku, quantity }, { token: shopper.token });
    expect(add.status, add.text).toBe(200);
    return api().post<CheckoutAnswer>('/api/v1/checkout', checkoutBody(card), { token: shopper.token, headers: { 'idempotency-key': randomUUID() } });
  };
  const shardStorages = (): Storage[] => databases.slice(2).map((d) => new PostgresStorage({ url: d.url, poolMax: 1 }));
  const invariants = async () => {
    const shards = shardStorages();
    const inventory = new PostgresStorage({ url: databases[1]!.url, poolMax: 1 });
    const payment = new PostgresStorage({ url: databases[0]!.url, poolMax: 1 });
    try {
      return await checkInvariants({ inventory, orders: shards, payment, initialStock });
    } finally {
      await Promise.all([...shards, inventory, payment].map((s) => s.close()));
    }
  };

  beforeAll(async () => {
    // main (identity, catalog, cart, payment, order and the shard maps), inventory, two shards.
    for (const prefix of ['agora_dr_main', 'agora_dr_inv', 'agora_dr_s0', 'agora_dr_s1']) databases.push(await createTestDatabase(prefix));
    const shards = databases
      .slice(2)
      .map((d) => d.url)
      .join(',');
    env = {
      DATABASE_URL: databases[0]!.url,
      INVENTORY_DATABASE_URL: databases[1]!.url,
      ORDER_SHARDS: shards,
      CART_SHARDS: shards,
      AGORA_DB_POOL_MAX: String(POOL),
      AGORA_SHARD_POOL_MAX: String(POOL),
      NATS_URL: TEST_NATS_URL,
      AGORA_NATS_STREAM: nats.stream,
      AGORA_NATS_SUBJECT_PREFIX: nats.subjectPrefix,
      AGORA_DATA_DIR: dataDir,
      AGORA_JWT_SECRET: 'dr-drill-secret-dr-drill-secret-0123456789abcdef',
      AGORA_LOG_LEVEL: 'silent',
      AGORA_ADMIN_EMAIL: ADMIN.email,
      AGORA_ADMIN_PASSWORD: ADMIN.password,
      AGORA_RATE_LIMITS: 'off',
      AGORA_DEMO_PRODUCTS: '0',
      AGORA_PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET,
    };
    config = loadConfig(env);
    running = await startAgora(config, env);

    // The load: four shoppers buy, one cancels, one card is declined.
    const login = await api().post<{ token: string }>('/api/v1/auth/login', ADMIN);
    expect(login.status, login.text).toBe(200);
    sku = `DR-${randomUUID().slice(0, 8).toUpperCase()}`;
    const product = await api().post(
      '/api/v1/admin/products',
      { name: `DR ${sku}`, description: 'a DR drill fixture', category: 'test', variants: [{ sku, title: 'One', price: { amount: 1250, currency: 'USD' } }] },
      { token: login.body.token },
    );
    expect(product.status, product.text).toBe(201);
    const stock = await api().put(`/api/v1/admin/inventory/${sku}`, { onHand: STOCK }, { token: login.body.token });
    expect(stock.status, stock.text).toBe(200);
    initialStock.set(sku, STOCK);
    for (let i = 0; i < 4; i++) {
      const shopper = await register();
      const res = await checkout(shopper, 'tok_visa', 1 + (i % 2));
      expect(res.status, res.text).toBe(201);
      kept.push({ shopper, order: res.body });
    }
    const cancelled = await api().post<Order>(`/api/v1/orders/${kept[0]!.order.id}/cancel`, undefined, { token: kept[0]!.shopper.token });
    expect(cancelled.status, cancelled.text).toBe(200);
    kept[0]!.order = cancelled.body;
    const declined = await checkout(await register(), 'tok_declined');
    expect(declined.status, declined.text).toBeGreaterThanOrEqual(400);
    expect(declined.body.order?.status).toBe('PAYMENT_FAILED');
    expect((await invariants()).violations).toEqual([]);
  }, 240_000);

  afterAll(async () => {
    await running?.agora.close();
    for (const d of databases) await d.drop();
    await deleteNatsStream(nats.stream);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('backs up every database and shard with the stream, restores them after a wipe, and the shop runs on', async () => {
    const started = Date.now();
    manifest = await runBackup(config, backupDir);
    backupMs = Date.now() - started;
    // RPO by construction: what is written after the backup started is not in it.
    lost = (await checkout(await register(), 'tok_visa')).body;
    expect(lost.status).toBe('CONFIRMED');

    const kinds = manifest.artifacts.map((a) => a.kind).sort();
    expect(kinds).toEqual(['jetstream', 'postgres', 'postgres', 'postgres', 'postgres']);
    const ordersInBackup = manifest.artifacts.reduce((n, a) => n + (a.kind === 'postgres' ? (a.rows['orders.orders'] ?? 0) : 0), 0);
    expect(ordersInBackup).toBe(5); // four sold (one cancelled since) and the declined one
    const stream = manifest.artifacts.find((a) => a.kind === 'jetstream');
    expect(stream?.kind === 'jetstream' && stream.messages).toBeGreaterThan(0);

    // The disaster: the shop stops, every database and the stream are gone.
    await running?.agora.close();
    running = undefined;
    const wiped = Date.now();
    for (const d of databases) await d.drop();
    await deleteNatsStream(nats.stream);

    const { io, out, err } = capture();
    expect(await runRestoreCommand(config, ['--from', backupDir, '--json'], io), err.join('')).toBe(0);
    const restored = JSON.parse(out.at(-1) ?? '{}') as { rows: number; messages: number; rearmed: number };
    running = await startAgora(config, env);
    const rtoMs = Date.now() - wiped;

    // Counts: the manifest's rows and events, as the restore found them.
    const rowsInBackup = manifest.artifacts.reduce((n, a) => n + (a.kind === 'jetstream' ? 0 : Object.values(a.rows).reduce((x, y) => x + y, 0)), 0);
    expect(restored.rows).toBe(rowsInBackup);
    expect(restored.messages).toBe(stream?.kind === 'jetstream' ? stream.messages : -1);
    const shards = shardStorages();
    try {
      const counts = await Promise.all(shards.map(async (s) => Number((await s.query<{ n: number }>(sql`select count(*)::int as n from orders.orders`))[0]?.n)));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(ordersInBackup);
    } finally {
      await Promise.all(shards.map((s) => s.close()));
    }

    // The restored shop: its laws hold, its orders read back, the order after the backup is gone, a new checkout works.
    expect((await invariants()).violations).toEqual([]);
    for (const { shopper, order } of kept) {
      const res = await api().get<Order>(`/api/v1/orders/${order.id}`, { token: shopper.token });
      expect(res.status, res.text).toBe(200);
      expect(res.body.status).toBe(order.status);
    }
    expect((await api().get(`/api/v1/orders/${lost.id}`, { token: kept[1]!.shopper.token })).status).toBe(404);
    const again = await checkout(kept[1]!.shopper, 'tok_visa');
    expect(again.status, again.text).toBe(201);
    expect(again.body.status).toBe('CONFIRMED');
    expect((await invariants()).violations).toEqual([]);

    const bytes = manifest.artifacts.reduce((n, a) => n + a.bytes, 0);
    // The snapshots' points in time: the stream's, then every database's (exported together).
    const points = manifest.artifacts.map((a) => (a.kind === 'jetstream' ? a.takenAt : a.kind === 'postgres' ? a.snapshotAt : manifest.startedAt)).map((t) => Date.parse(t));
    const windowMs = Math.max(...points) - Date.parse(manifest.startedAt);
    const databasePoints = manifest.artifacts.flatMap((a) => (a.kind === 'postgres' ? [Date.parse(a.snapshotAt)] : []));
    const databaseSpanMs = Math.max(...databasePoints) - Math.min(...databasePoints);
    process.stdout.write(
      `DR drill: backup ${backupMs} ms (${manifest.artifacts.length} artifacts, ${bytes} bytes, ${rowsInBackup} rows, ${restored.messages} events); ` +
        `RPO = everything written after the snapshots, taken within ${windowMs} ms of the backup's start, the databases' within ${databaseSpanMs} ms of each other (the checkout after it is gone); ` +
        `RTO ${rtoMs} ms from the wipe to serving (restore ${JSON.parse(out.at(-1) ?? '{}').durationMs} ms, ${restored.rearmed} outbox rows re-armed); load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
    );
  }, 240_000);

  it('refuses a backup with a corrupted artifact and leaves the targets untouched, even with --force', async () => {
    const corrupt = join(dataDir, 'corrupt');
    cpSync(backupDir, corrupt, { recursive: true });
    const victim = manifest.artifacts.find((a) => a.kind === 'postgres')!;
    const bytes = readFileSync(join(corrupt, victim.file));
    const middle = bytes.length >> 1;
    bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
    writeFileSync(join(corrupt, victim.file), bytes);
    const before = await invariants();

    const { io, err } = capture();
    expect(await runRestoreCommand(config, ['--from', corrupt, '--force'], io)).toBe(BACKUP_EXIT.backupInvalid);
    expect(err.join('')).toMatch(new RegExp(`${victim.file}: sha256 [0-9a-f]{64} but the manifest records ${victim.sha256}`));
    // Untouched: the running shop's data as it was, the shop still serving.
    const after = await invariants();
    expect(after.ordersByStatus).toEqual(before.ordersByStatus);
    expect(after.violations).toEqual([]);
    expect((await api().get(`/api/v1/orders/${kept[1]!.order.id}`, { token: kept[1]!.shopper.token })).status).toBe(200);
    // A sound backup over live data without --force: refused, nothing touched either.
    const second = capture();
    expect(await runRestoreCommand(config, ['--from', backupDir], second.io)).toBe(BACKUP_EXIT.targetsNotEmpty);
    expect(second.err.join('')).toMatch(/is not empty/);
    expect(readManifest(backupDir).artifacts).toHaveLength(manifest.artifacts.length);
  }, 120_000);
});
