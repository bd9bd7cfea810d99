import pg from 'pg';

/**
 * Counts what reaches PostgreSQL through `pg` while `work` runs, the way `agora bench --count-sql`
 * does: every round trip is a statement; a transaction is a `begin`; a write sent outside a
 * transaction is committed (and flushed) alone. Durable commits = transactions + autocommitted writes.
 */
export interface SqlCount {
  statements: number;
  transactions: number;
  durableCommits: number;
  texts: string[];
}

/** A statement that changes rows, also inside a CTE (`with x as (update ...)`). */
const WRITE = /^(insert|update|delete)\b|^with\b[\s\S]*\b(insert\s+into|update|delete\s+from)\b/i;
const IN_TRANSACTION = Symbol('payment.test.inTransaction');

type Query = (this: unknown, ...args: unknown[]) => unknown;

export async function countSql<T>(work: () => Promise<T>): Promise<{ result: T; count: SqlCount }> {
  const count: SqlCount = { statements: 0, transactions: 0, durableCommits: 0, texts: [] };
  const prototype = pg.Client.prototype as unknown as { query: Query };
  const original = prototype.query;
  prototype.query = function countedQuery(this: unknown, ...args: unknown[]): unknown {
    const config = args[0];
    const raw = typeof config === 'string' ? config : typeof config === 'object' && config !== null && 'text' in config ? String((config as { text: unknown }).text) : String(config);
    const text = raw.replace(/\s+/g, ' ').trim();
    const client = this as { [IN_TRANSACTION]?: boolean };
    const verb = text.toLowerCase();
    count.statements += 1;
    count.texts.push(text);
    if (verb === 'begin') {
      client[IN_TRANSACTION] = true;
      count.transactions += 1;
      count.durableCommits += 1;
    } else if (verb === 'commit' || verb === 'rollback') {
      client[IN_TRANSACTION] = false;
    } else if (!client[IN_TRANSACTION] && WRITE.test(text)) {
      count.durableCommits += 1;
    }
    return original.apply(this, args);
  };
  try {
    return { result: await work(), count };
  } finally {
    prototype.query = original;
  }
}
