import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The database a run works in: fresh on the given server, dropped afterwards (unless kept). */
export interface RunDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 5_000;

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * `serverUrl` names a server and a database to connect to for administration (e.g. `postgres`);
 * the run gets its own `agora_bench_<random>` there, so runs never see each other's rows.
 */
export async function createRunDatabase(serverUrl: string): Promise<RunDatabase> {
  const name = `agora_bench_${randomBytes(5).toString('hex')}`;
  try {
    await withClient(serverUrl, (client) => client.query(`create database "${name}"`));
  } catch (err) {
    throw new Error(`cannot create the run's database on ${new URL(serverUrl).host} (the DATABASE_URL user needs CREATEDB): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      await withClient(serverUrl, (client) => client.query(`drop database if exists "${name}" with (force)`));
    },
  };
}

/** Where a run's `agora start` keeps its data, and what removes it. */
export interface RunStorage {
  /** The run's database on DATABASE_URL's server; undefined: embedded PGlite in `dataDir`. */
  database: RunDatabase | undefined;
  /** A fresh temporary directory for AGORA_DATA_DIR. */
  dataDir: string;
}

/**
 * The storage every bench runs `agora start` on: a fresh database on `env.DATABASE_URL`'s server
 * when it is set (dropped afterwards unless `keepDatabase`), and a temporary data directory. Each
 * removal is pushed to `cleanups`, which the caller runs in reverse when the run ends.
 */
export async function prepareRunStorage(options: {
  env: NodeJS.ProcessEnv;
  dataDirPrefix: string;
  keepDatabase?: boolean;
  progress: (line: string) => void;
  cleanups: (() => Promise<void>)[];
}): Promise<RunStorage> {
  const serverUrl = options.env.DATABASE_URL;
  let database: RunDatabase | undefined;
  if (serverUrl) {
    const created = await createRunDatabase(serverUrl);
    database = created;
    if (!options.keepDatabase) options.cleanups.push(() => created.drop());
    options.progress(`storage: PostgreSQL database ${created.name} on ${new URL(serverUrl).host}${options.keepDatabase ? ' (kept after the run)' : ' (dropped after the run)'}`);
  } else {
    options.progress('storage: embedded PGlite in a temporary directory');
  }
  const dataDir = mkdtempSync(join(tmpdir(), options.dataDirPrefix));
  options.cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  return { database, dataDir };
}
