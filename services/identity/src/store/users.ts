import { asc, count, eq, getTableColumns, gt, sql } from 'drizzle-orm';
import { PG_UNIQUE_VIOLATION, pgErrorCode, type Executor } from '@agora/platform';
import type { UserRecord, UserRepository } from '../app/ports.js';
import { users } from './schema.js';

type Row = typeof users.$inferSelect;

const toRecord = (row: Row): UserRecord => ({ ...row });

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

  async listAfter(afterId: string | undefined, limit: number): Promise<UserRecord[]> {
    const rows = await this.db
      .select()
      .from(users)
      .where(afterId === undefined ? undefined : gt(users.id, afterId))
      .orderBy(asc(users.id))
      .limit(limit);
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
