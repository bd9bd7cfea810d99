import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

/**
 * PostgreSQL backups with the server's own tools: one `pg_dump --format=custom` per database,
 * taken in a snapshot this module exports (so the row counts recorded beside it are exactly the
 * dump's), and `pg_restore` into an empty database.
 */

const run = promisify(execFile);

export const PG_TOOLS = {
  /** The client tools' major version: Debian's postgresql-client-15, matching the servers Agora runs on. */
  major: 15,
  /** The directory holding pg_dump/pg_restore unless AGORA_PG_BIN names another; else PATH. */
  debianBin: '/usr/lib/postgresql/15/bin',
  /** The database a restore connects to for CREATE/DROP DATABASE. */
  maintenanceDatabase: 'postgres',
  /** stderr kept for an error message (pg_restore can be chatty). */
  errorTailChars: 4_000,
  /** Large dumps: pg_dump writes to a file, only its messages come back through the pipe. */
  maxBufferBytes: 16 * 1024 * 1024,
} as const;

/** A schema that is PostgreSQL's own, never Agora's. */
const SYSTEM_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast'];

/** pg_dump or pg_restore: AGORA_PG_BIN, else Debian's PostgreSQL 15 directory, else PATH. */
export function pgTool(name: 'pg_dump' | 'pg_restore', env: NodeJS.ProcessEnv = process.env): string {
  for (const dir of [env.AGORA_PG_BIN, PG_TOOLS.debianBin]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return name;
}

/** A URL without its password, which goes to the tools through PGPASSWORD instead (never on a command line). */
export function withoutPassword(url: string): { url: string; password: string | undefined } {
  const parsed = new URL(url);
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  parsed.password = '';
  return { url: parsed.toString(), password };
}

/** The database a URL names. */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!name) throw new Error(`${withoutPassword(url).url} names no database`);
  return name;
}

/** host:port/database: two URLs with the same key are the same database. */
export function databaseKey(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '5432'}/${databaseName(url)}`;
}

async function runTool(tool: 'pg_dump' | 'pg_restore', args: string[], url: string): Promise<void> {
  const { password } = withoutPassword(url);
  const env = { ...process.env, ...(password === undefined ? {} : { PGPASSWORD: password }) };
  const path = pgTool(tool);
  try {
    await run(path, args, { env, maxBuffer: PG_TOOLS.maxBufferBytes });
  } catch (err) {
    const failure = err as { code?: string; stderr?: string; message: string };
    if (failure.code === 'ENOENT') throw new Error(`${tool} is not installed (looked in AGORA_PG_BIN, ${PG_TOOLS.debianBin} and PATH): install postgresql-client-${PG_TOOLS.major}`);
    throw new Error(`${tool} failed on ${withoutPassword(url).url}: ${(failure.stderr ?? failure.message).slice(-PG_TOOLS.errorTailChars)}`);
  }
}

async function tableNames(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ schemaname: string; tablename: string }>(
    'select schemaname, tablename from pg_tables where schemaname <> all($1::text[]) order by schemaname, tablename',
    [SYSTEM_SCHEMAS],
  );
  return rows.map((r) => `${client.escapeIdentifier(r.schemaname)}.${client.escapeIdentifier(r.tablename)}`);
}

/** Exact rows per table (`schema.table`, as PostgreSQL spells them quoted), in the client's current snapshot. */
export async function countRows(client: pg.Client): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  for (const table of await tableNames(client)) {
    const { rows: counted } = await client.query<{ n: string }>(`select count(*)::text as n from ${table}`);
    rows[table.replaceAll('"', '')] = Number(counted[0]?.n ?? 0);
  }
  return rows;
}

/**
 * An open snapshot of one database: a REPEATABLE READ transaction whose snapshot is exported, so
 * pg_dump (`--snapshot`) and the row counts see the same data. Held until {@link dumpInSnapshot}.
 */
export interface DatabaseSnapshot {
  url: string;
  client: pg.Client;
  snapshotId: string;
  takenAt: string;
}

export async function openSnapshot(url: string): Promise<DatabaseSnapshot> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('begin isolation level repeatable read read only');
    const { rows } = await client.query<{ id: string }>('select pg_export_snapshot() as id');
    const snapshotId = rows[0]?.id;
    if (!snapshotId) throw new Error('pg_export_snapshot returned nothing');
    return { url, client, snapshotId, takenAt: new Date().toISOString() };
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

/** Counts rows and runs pg_dump in the snapshot, then ends it; returns the counts. */
export async function dumpInSnapshot(snapshot: DatabaseSnapshot, file: string): Promise<Record<string, number>> {
  try {
    const rows = await countRows(snapshot.client);
    await runTool('pg_dump', ['--format=custom', `--snapshot=${snapshot.snapshotId}`, `--file=${file}`, `--dbname=${withoutPassword(snapshot.url).url}`], snapshot.url);
    await snapshot.client.query('commit');
    return rows;
  } finally {
    await snapshot.client.end().catch(() => undefined);
  }
}

export async function closeSnapshot(snapshot: DatabaseSnapshot): Promise<void> {
  await snapshot.client.end().catch(() => undefined);
}

function maintenanceUrl(url: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${PG_TOOLS.maintenanceDatabase}`;
  return parsed.toString();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** What a restore finds at its target: no database, an empty one, or one holding tables or schemas of its own. */
export type TargetState = 'missing' | 'empty' | 'not-empty';

export async function targetState(url: string): Promise<TargetState> {
  const name = databaseName(url);
  const exists = await withClient(maintenanceUrl(url), async (c) => ((await c.query('select 1 from pg_database where datname = $1', [name])).rowCount ?? 0) > 0);
  if (!exists) return 'missing';
  return withClient(url, async (c) => {
    const tables = (await tableNames(c)).length;
    const { rows } = await c.query<{ n: number }>(
      `select count(*)::int as n from pg_namespace where nspname <> all($1::text[]) and nspname <> 'public' and nspname not like 'pg_temp_%' and nspname not like 'pg_toast_temp_%'`,
      [SYSTEM_SCHEMAS],
    );
    return tables === 0 && (rows[0]?.n ?? 0) === 0 ? 'empty' : 'not-empty';
  });
}

/** Makes the target an empty database: creates it when missing; drops and creates it when `replace` (restore --force). */
export async function prepareTarget(url: string, replace: boolean): Promise<void> {
  const name = databaseName(url);
  await withClient(maintenanceUrl(url), async (c) => {
    const quoted = c.escapeIdentifier(name);
    if (replace) await c.query(`drop database if exists ${quoted} with (force)`);
    const exists = ((await c.query('select 1 from pg_database where datname = $1', [name])).rowCount ?? 0) > 0;
    if (!exists) await c.query(`create database ${quoted}`);
  });
}

/**
 * pg_restore of a custom-format dump into an empty database, in one transaction (a failure leaves
 * it empty) and stopping at the first error. Objects belong to the restoring role (--no-owner,
 * --no-privileges): the roles of the source server need not exist here. Returns the rows found after.
 */
export async function restoreDatabase(url: string, file: string): Promise<Record<string, number>> {
  await runTool('pg_restore', ['--exit-on-error', '--single-transaction', '--no-owner', '--no-privileges', `--dbname=${withoutPassword(url).url}`, file], url);
  return withClient(url, countRows);
}
