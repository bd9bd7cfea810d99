import { sql } from 'drizzle-orm';
import type { Storage } from '@agora/platform';

/**
 * How far before the stream snapshot a restore clears outbox marks: `published_at` is the database
 * server's clock, the snapshot time this process's; clocks of one deployment agree far better.
 */
export const OUTBOX_REARM_MARGIN_MS = 60_000;

/**
 * After a restore, every outbox row marked published since the stream snapshot (less the margin)
 * is marked unpublished again: its event may be missing from the restored stream, and the relay
 * publishes it again (the stream drops a duplicate id inside its window; consumers are
 * idempotent beyond it). Every service's outbox (`<schema>.outbox`, packages/platform/src/messaging/outbox.ts).
 * Returns the rows cleared per schema.
 */
export async function rearmOutboxes(storage: Storage, streamSnapshotAt: Date): Promise<Record<string, number>> {
  const cutoff = new Date(streamSnapshotAt.getTime() - OUTBOX_REARM_MARGIN_MS);
  const schemas = await storage.query<{ schema: string }>(
    sql`select table_schema as schema from information_schema.columns where table_name = 'outbox' and column_name = 'published_at' order by table_schema`,
  );
  const cleared: Record<string, number> = {};
  for (const { schema } of schemas) {
    const rows = await storage.query<{ id: string }>(
      sql`update ${sql.identifier(schema)}.outbox set published_at = null where published_at >= ${cutoff.toISOString()}::timestamptz returning id::text as id`,
    );
    cleared[schema] = rows.length;
  }
  return cleared;
}
