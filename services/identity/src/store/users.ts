import { and, count, desc, eq, getTableColumns, ilike, lt, or, sql, type SQL } from 'drizzle-orm';
import { PG_UNIQUE_VIOLATION, pgErrorCode, type Executor } from '@agora/platform';
import type { UserRecord, UserRepository, UserSearch } from '../app/ports.js';
import { users } from './schema.js';

type Row = typeof users.$inferSelect;

const toRecord = (row: Row): UserRecord => ({ ...row });

/** `text` as a LIKE pattern that matches it literally: backslash (LIKE's default escape), `%` and `_` escaped. */
const likeLiteral = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);

export class SqlUserRepository implements UserRepository {
  constructor(private readonly db: Executor) {}

  async insert(user: UserRecord): Promise<'inserted' | 'email-taken'> {
    try {
      await this.db.insert(users).values(user);
      return 'inserted';
    } catch (err) {
      if (pgErrorCode(err) === PG_UNIQUE_VIOLATION) return 'email-taken';
      throw err;
    }
  }

  async findByEmail(email: string): Promise<UserRecord | undefined> {
    const [row] = await this.db.select().from(users).where(eq(users.email, email)).limit(1);
    return row && toRecord(row);
  }

  async findById(id: string): Promise<UserRecord | undefined> {
    const [row] = await this.db.select().from(users).where(eq(users.id, id)).limit(1);
    return row && toRecord(row);
  }

  /**
   * Walks the primary key backwards (ids are UUIDv7: newest first) and filters on the way, so a
   * page costs the rows up to its last match: cheap for the list and for common matches; a rare
   * match in a very large table reads far (a trigram index would be the next step).
   */
  async search(query: UserSearch): Promise<UserRecord[]> {
    const conditions: SQL[] = [];
    if (query.beforeId !== undefined) conditions.push(lt(users.id, query.beforeId));
    if (query.text !== undefined) {
      const pattern = `%${likeLiteral(query.text)}%`;
      const matches = or(ilike(users.name, pattern), ilike(users.email, pattern));
      if (matches) conditions.push(matches);
    }
    const rows = await this.db
      .select()
      .from(users)
      .where(and(...conditions))
      .orderBy(desc(users.id))
      .limit(query.limit);
    return rows.map(toRecord);
  }

  async upsertAdmin(user: UserRecord): Promise<{ user: UserRecord; created: boolean }> {
    const [row] = await this.db
      .insert(users)
      .values({ ...user, role: 'admin' })
      .onConflictDoUpdate({
        target: users.email,
        set: { role: 'admin', passwordHash: user.passwordHash, updatedAt: user.updatedAt },
      })
      // xmax is 0 only on a row this statement inserted (PostgreSQL's documented upsert idiom).
      .returning({ ...getTableColumns(users), created: sql<boolean>`(xmax = 0)` });
    if (!row) throw new Error('upsert returned no row');
    const { created, ...record } = row;
    return { user: toRecord(record), created };
  }

  async countAdmins(): Promise<number> {
    const [row] = await this.db.select({ n: count() }).from(users).where(eq(users.role, 'admin'));
    return row?.n ?? 0;
  }
}
