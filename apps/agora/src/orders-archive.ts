import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createGunzip, createGzip } from 'node:zlib';
import { ConfigError } from '@agora/kernel';
import { PostgresStorage, SINGLE_SHARD_ID, ShardMapStore, createLogger, postgresLocks, shardMoveLockName, type Storage } from '@agora/platform';
import { ORDER_MIGRATIONS } from '@agora/order';
import {
  ARCHIVED_TABLES,
  MonthChangedError,
  dropMonth,
  ensureMonthPartitions,
  exportMonth,
  monthOfDate,
  monthPartitions,
  monthReadiness,
  parseMonth,
  type ArchivedTable,
  type Month,
  type MonthDigest,
} from '@agora/order/months';
import type { AgoraConfig } from './config.js';
import { StorageSet, migrateAll } from './compose.js';
import { SHARD_CLI_LIMITS } from './shards.js';

/**
 * `agora orders archive --before YYYY-MM [--out DIR]` (docs/sharding.md, "Archiving a month"): on
 * every order shard, every month partition before the given month whose orders are all final goes
 * to a gzipped NDJSON file with a manifest (rows per table, SHA-256), is read back and checked, and
 * only then dropped. Each step can be interrupted and run again: the file is written under a
 * temporary name and renamed once complete, a re-run exports a month still present again
 * (replacing the file, never appending to it), and the drop is one transaction that refuses rows
 * that differ from the export.
 */
export const ORDERS_ARCHIVE_USAGE = `usage:
  agora orders archive --before YYYY-MM [--out DIR]
      every month before YYYY-MM (at most the current month) whose orders are all final: written to
      DIR (default <AGORA_DATA_DIR>/archive) as orders-<shard>-<month>.ndjson.gz with a manifest,
      verified, then dropped from the shard`;

/** One line of the archive file: a row as PostgreSQL has it, and its table. */
export interface ArchiveLine {
  table: ArchivedTable;
  row: Record<string, unknown>;
}

/** The manifest beside each archive file. */
export interface ArchiveManifest {
  format: typeof ARCHIVE_FORMAT;
  shard: string;
  month: Month;
  file: string;
  bytes: number;
  sha256: string;
  rows: Record<ArchivedTable, number>;
  /** The rows' digest in the database when exported (services/order/src/store/month-archive.ts). */
  digest: Record<ArchivedTable, string>;
  exportedAt: string;
}

export const ARCHIVE_FORMAT = 'agora-orders-archive/1';

export type MonthOutcome =
  | { shard: string; month: Month; result: 'archived'; file: string; rows: Record<ArchivedTable, number> }
  | { shard: string; month: Month; result: 'empty' }
  | { shard: string; month: Month; result: 'refused'; reason: string };

export interface ArchiveShard {
  id: string;
  storage: Storage;
}

export interface ArchiveOptions {
  shards: readonly ArchiveShard[];
  before: Month;
  outDir: string;
  now: Date;
  log?: (line: string) => void;
  /** TEST-ONLY fault injection: runs after a month's file is written and verified, before its drop. */
  afterExport?: (shard: string, month: Month) => Promise<void>;
}

/** Archives every final month before `before` on every shard; a refused month does not stop the others. */
export async function archiveOrders(options: ArchiveOptions): Promise<MonthOutcome[]> {
  if (options.before > monthOfDate(options.now)) {
    throw new ConfigError('--before', `must be at most the current month (${monthOfDate(options.now)}): its orders are still being written; got ${options.before}`);
  }
  const log = options.log ?? (() => undefined);
  await mkdir(options.outDir, { recursive: true });
  const outcomes: MonthOutcome[] = [];
  for (const shard of options.shards) {
    // Orders the default partition took for months that had none move into their month first.
    await ensureMonthPartitions(shard.storage, options.now);
    const months = (await monthPartitions(shard.storage)).filter((m) => m < options.before);
    if (months.length === 0) log(`${shard.id}: no month before ${options.before}`);
    for (const month of months) {
      const outcome = await archiveMonth(shard, month, options);
      outcomes.push(outcome);
      log(describe(outcome));
    }
  }
  return outcomes;
}

function describe(outcome: MonthOutcome): string {
  const head = `${outcome.shard} ${outcome.month}:`;
  switch (outcome.result) {
    case 'archived':
      return `${head} archived ${ARCHIVED_TABLES.map((t) => `${outcome.rows[t]} ${t.slice('orders.'.length)}`).join(', ')} to ${outcome.file}; partitions dropped`;
    case 'empty':
      return `${head} no orders; partitions dropped`;
    case 'refused':
      return `${head} refused: ${outcome.reason}`;
  }
}

async function archiveMonth(shard: ArchiveShard, month: Month, options: ArchiveOptions): Promise<MonthOutcome> {
  const readiness = await monthReadiness(shard.storage, month);
  if (readiness.notFinal > 0 || readiness.unfinishedSagas > 0) {
    return { shard: shard.id, month, result: 'refused', reason: `${readiness.notFinal} of ${readiness.orders} orders not in a final status, ${readiness.unfinishedSagas} sagas unfinished; kept` };
  }
  const file = join(options.outDir, `orders-${shard.id}-${month}.ndjson.gz`);
  const digest = await writeArchive(shard.storage, month, file);
  const empty = digest.rows['orders.orders'] === 0;
  if (empty) await rm(file, { force: true });
  else await writeManifest(file, await verifyArchive(file, digest), shard.id, month, digest);
  await options.afterExport?.(shard.id, month);
  try {
    await dropMonth(shard.storage, month, digest);
  } catch (err) {
    if (!(err instanceof MonthChangedError)) throw err;
    return { shard: shard.id, month, result: 'refused', reason: `${err.message}; the file written is replaced by the next run` };
  }
  return empty ? { shard: shard.id, month, result: 'empty' } : { shard: shard.id, month, result: 'archived', file, rows: digest.rows };
}

/** The month's rows into `file` (under a temporary name until complete and on disk); the digest of what was read. */
async function writeArchive(storage: Storage, month: Month, file: string): Promise<MonthDigest> {
  const partial = `${file}.partial`;
  const gzip = createGzip();
  const out = createWriteStream(partial);
  gzip.pipe(out);
  const written = Object.fromEntries(ARCHIVED_TABLES.map((t) => [t, 0])) as Record<ArchivedTable, number>;
  let digest: MonthDigest;
  try {
    digest = await exportMonth(storage, month, async (table, row) => {
      written[table] += 1;
      if (!gzip.write(`${JSON.stringify({ table, row })}\n`)) await once(gzip, 'drain');
    });
  } finally {
    gzip.end();
    await once(out, 'close');
  }
  for (const table of ARCHIVED_TABLES) {
    if (written[table] !== digest.rows[table]) throw new Error(`${month}: wrote ${written[table]} rows of ${table}, the database holds ${digest.rows[table]}; nothing dropped`);
  }
  const handle = await open(partial, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partial, file);
  return digest;
}

/** Reads the file back: every line parses, the rows per table are the database's; answers its SHA-256 and size. */
async function verifyArchive(file: string, digest: MonthDigest): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const input = createReadStream(file);
  input.on('data', (chunk) => hash.update(chunk));
  const counted = Object.fromEntries(ARCHIVED_TABLES.map((t) => [t, 0])) as Record<ArchivedTable, number>;
  for await (const text of createInterface({ input: input.pipe(createGunzip()), crlfDelay: Infinity })) {
    const line = JSON.parse(text) as ArchiveLine;
    if (!(ARCHIVED_TABLES as readonly string[]).includes(line.table) || typeof line.row !== 'object') throw new Error(`${file}: a line that is not an archived row`);
    counted[line.table] += 1;
  }
  for (const table of ARCHIVED_TABLES) {
    if (counted[table] !== digest.rows[table]) throw new Error(`${file}: read back ${counted[table]} rows of ${table}, expected ${digest.rows[table]}; nothing dropped`);
  }
  return { sha256: hash.digest('hex'), bytes: (await stat(file)).size };
}

async function writeManifest(file: string, checked: { sha256: string; bytes: number }, shard: string, month: Month, digest: MonthDigest): Promise<void> {
  const manifest: ArchiveManifest = { format: ARCHIVE_FORMAT, shard, month, file: basename(file), ...checked, rows: digest.rows, digest: digest.sums, exportedAt: new Date().toISOString() };
  const target = file.replace(/\.ndjson\.gz$/, '.manifest.json');
  await writeFile(`${target}.partial`, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(`${target}.partial`, target);
}

/** `agora orders archive ...` (main.ts). Exit 0: every month before archived (or none); 1: some month refused (the report says why). */
export async function runOrdersCommand(config: AgoraConfig, args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: { before: { type: 'string' }, out: { type: 'string' } }, allowPositionals: true });
  if (positionals[0] !== 'archive' || positionals.length !== 1 || values.before === undefined) {
    process.stderr.write(`${ORDERS_ARCHIVE_USAGE}\n`);
    return 2;
  }
  const before = parseMonth(values.before, '--before');
  const outDir = resolve(values.out ?? join(config.dataDir, 'archive'));
  const logger = createLogger('orders-archive', config.logLevel);
  const storages = new StorageSet(config);
  const opened: Storage[] = [];
  try {
    await migrateAll(storages);
    const main = await storages.forService('order');
    const maps = new ShardMapStore(main);
    const map = await maps.latest('order');
    const shards: ArchiveShard[] = [];
    for (const member of map?.members ?? [{ id: SINGLE_SHARD_ID, url: null }]) {
      if (member.url === null) {
        shards.push({ id: member.id, storage: main });
        continue;
      }
      const storage = new PostgresStorage({ url: member.url, poolMax: SHARD_CLI_LIMITS.poolMax });
      opened.push(storage);
      await storage.migrate('order', ORDER_MIGRATIONS);
      shards.push({ id: member.id, storage });
    }
    // Under the shard-move lock: a move copying a shopper's orders never sees a month leave half-way.
    const locks = postgresLocks({ storage: main, schema: 'sharding', logger });
    try {
      const outcomes = await locks.withLock(shardMoveLockName('order'), { leaseMs: SHARD_CLI_LIMITS.moveLeaseMs }, () =>
        archiveOrders({ shards, before, outDir, now: new Date(), log: (line) => void process.stdout.write(`${line}\n`) }),
      );
      const refused = outcomes.filter((o) => o.result === 'refused').length;
      process.stdout.write(`orders archive before ${before}: ${outcomes.length - refused} month(s) archived or dropped, ${refused} refused; files in ${outDir}\n`);
      return refused > 0 ? 1 : 0;
    } finally {
      await locks.close();
    }
  } finally {
    await Promise.all(opened.map((s) => s.close()));
    await storages.close();
  }
}
