import { randomBytes } from 'node:crypto';
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
