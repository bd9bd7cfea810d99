import { sql } from 'drizzle-orm';
import type { Storage } from '../storage/storage.js';
import { COPY_SETTING, textArray, type ShardedData } from './fence.js';

export const COPY_LIMITS = {
  /** Keys per copy round: one read per table on the source, one transaction on the target. */
  keysPerBatch: 200,
} as const;

/**
 * Copies every row of `keys` from `source` to `target`, replacing what the target held of them:
 * per batch, one read of every table on the source (rows as JSON, so any table's columns come across
 * exactly), then one transaction on the target that deletes the keys' rows (children first) and
 * inserts the copies (parents first). Run again, it brings the target up to date with writes made
 * since (a move's catch-up). Returns the rows copied.
 */
export async function copyKeys(source: Storage, target: Storage, data: ShardedData, keys: readonly string[]): Promise<number> {
  let copied = 0;
  for (let start = 0; start < keys.length; start += COPY_LIMITS.keysPerBatch) {
    const batch = textArray(keys.slice(start, start + COPY_LIMITS.keysPerBatch));
    // One statement, so one snapshot: a child row written between two reads cannot come without its parent.
    const reads = data.moved.map((moved) => sql`(select coalesce(json_agg(t), '[]'::json) from ${sql.raw(moved.table)} t where ${moved.rowsOf(batch)})`);
    const [read] = await source.query<{ tables: unknown[][] }>(sql`select json_build_array(${sql.join(reads, sql`, `)}) as tables`);
    const tables = data.moved.map((moved, i) => ({ table: moved.table, rows: read?.tables[i] ?? [] }));
    await target.transaction(async (tx) => {
      await target.query(sql`select set_config(${COPY_SETTING}, 'on', true)`, tx);
      for (const moved of [...data.moved].reverse()) await target.query(sql`delete from ${sql.raw(moved.table)} t where ${moved.rowsOf(batch)}`, tx);
      for (const { table, rows } of tables) {
        if (rows.length === 0) continue;
        await target.query(sql`insert into ${sql.raw(table)} select * from json_populate_recordset(null::${sql.raw(table)}, ${JSON.stringify(rows)}::json)`, tx);
        copied += rows.length;
      }
    });
  }
  return copied;
}

/** Deletes every row of `keys` on one shard (children first): a move's clean-up, or an abandoned copy. */
export async function deleteKeys(storage: Storage, data: ShardedData, keys: readonly string[]): Promise<void> {
  for (let start = 0; start < keys.length; start += COPY_LIMITS.keysPerBatch) {
    const batch = textArray(keys.slice(start, start + COPY_LIMITS.keysPerBatch));
    await storage.transaction(async (tx) => {
      for (const moved of [...data.moved].reverse()) await storage.query(sql`delete from ${sql.raw(moved.table)} t where ${moved.rowsOf(batch)}`, tx);
    });
  }
}
