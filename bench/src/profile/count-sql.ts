/**
 * Profiling aid, loaded into the server under test with `--import` by `agora bench ... --count-sql`:
 * counts every statement sent through `pg` (PostgreSQL only), by text, and writes the counts to
 * AGORA_BENCH_SQL_COUNT_FILE when the process exits. SIGUSR2 zeroes them (the bench sends it when
 * setup is over, so the counts cover the warm-up and the measured phase only).
 */
import { writeFileSync } from 'node:fs';
import pg from 'pg';

export interface SqlCounts {
  statements: number;
  /** `begin` statements: explicit transactions (autocommitted single statements are not among them). */
  transactions: number;
  /** Writes sent outside an explicit transaction: each is a transaction of its own, committed (and flushed) alone. */
  autocommitWrites: number;
  byText: Record<string, number>;
}

const STATEMENT_TEXT_CHARS = 200;
/** A statement that changes rows (also inside a CTE: `with x as (update ...)`). */
const WRITE = /^(insert|update|delete)\b|^with\b[\s\S]*\b(insert\s+into|update|delete\s+from)\b/i;
const IN_TRANSACTION = Symbol('agora.bench.inTransaction');
const out = process.env.AGORA_BENCH_SQL_COUNT_FILE;

if (out) {
  let counts = new Map<string, number>();
  let statements = 0;
  let autocommitWrites = 0;
  const clientPrototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = clientPrototype.query;
  clientPrototype.query = function countedQuery(this: unknown, ...args: unknown[]): unknown {
    const config = args[0];
    const text = typeof config === 'string' ? config : typeof config === 'object' && config !== null && 'text' in config ? String((config as { text: unknown }).text) : String(config);
    const key = text.replace(/\s+/g, ' ').trim().slice(0, STATEMENT_TEXT_CHARS);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    statements += 1;
    const client = this as { [IN_TRANSACTION]?: boolean };
    const verb = key.toLowerCase();
    if (verb === 'begin') client[IN_TRANSACTION] = true;
    else if (verb === 'commit' || verb === 'rollback') client[IN_TRANSACTION] = false;
    else if (!client[IN_TRANSACTION] && WRITE.test(key)) autocommitWrites += 1;
    return original.apply(this, args);
  };
  process.on('SIGUSR2', () => {
    counts = new Map();
    statements = 0;
    autocommitWrites = 0;
  });
  process.on('exit', () => {
    const byText = Object.fromEntries([...counts.entries()].sort((a, b) => b[1] - a[1]));
    const result: SqlCounts = { statements, transactions: counts.get('begin') ?? 0, autocommitWrites, byText };
    writeFileSync(out, JSON.stringify(result));
  });
}
