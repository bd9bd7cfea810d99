import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { PgliteStorage, type Storage } from '@agora/platform';

/**
 * The embedded database (`npm start`: PGlite in `<AGORA_DATA_DIR>/pglite`), backed up with
 * PGlite's own dump of its data directory. PGlite is one process's database: back it up and
 * restore it while `agora start` is stopped (two processes must never open one data directory).
 */

/** Exact rows per `schema.table` of every service schema. */
async function countRows(storage: Storage): Promise<Record<string, number>> {
  const tables = await storage.query<{ schemaname: string; tablename: string }>(
    sql`select schemaname, tablename from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by schemaname, tablename`,
  );
  const rows: Record<string, number> = {};
  for (const { schemaname, tablename } of tables) {
    const [counted] = await storage.query<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(schemaname)}.${sql.identifier(tablename)}`);
    rows[`${schemaname}.${tablename}`] = Number(counted?.n ?? 0);
  }
  return rows;
}

/** Dumps the data directory into `file`; returns the rows it holds. */
export async function dumpEmbedded(dataDir: string, file: string): Promise<Record<string, number>> {
  if (!existsSync(dataDir)) throw new Error(`the embedded database ${dataDir} does not exist: nothing to back up`);
  const storage = await PgliteStorage.open(dataDir);
  try {
    const rows = await countRows(storage);
    writeFileSync(file, await storage.dumpDataDir());
    return rows;
  } finally {
    await storage.close();
  }
}

/** Whether the target data directory holds anything (a restore refuses it unless --force). */
export function embeddedTargetEmpty(dataDir: string): boolean {
  return !existsSync(dataDir) || readdirSync(dataDir).length === 0;
}

/**
 * Unpacks the dump into `dataDir` (emptied first when `replace`); runs `after` on the restored
 * database (PGlite is slow to open: once is enough); returns the rows found after.
 */
export async function restoreEmbedded(file: string, dataDir: string, replace: boolean, after: (storage: Storage) => Promise<void> = async () => undefined): Promise<Record<string, number>> {
  if (replace) rmSync(dataDir, { recursive: true, force: true });
  if (!embeddedTargetEmpty(dataDir)) throw new Error(`${dataDir} is not empty`);
  const storage = await PgliteStorage.openFromDump(dataDir, readFileSync(file));
  try {
    await after(storage);
    return await countRows(storage);
  } finally {
    await storage.close();
  }
}
