import { sql } from 'drizzle-orm';
import { ConfigError, type Clock } from '@agora/kernel';
import { PeriodicTask, type Logger, type ShardRouter, type Storage } from '@agora/platform';

/**
 * Orders, their lines and their history are partitioned by the month their order's id was made in
 * (UUIDv7; migration 0004_orders_by_month.sql, docs/sharding.md "Months inside a shard"). A month's
 * partitions are made ahead of time; an order of a month that has none lands in the default
 * partition and moves into its month's when that is made, so no insert ever waits for one.
 */
export const MONTH_PARTITIONS = {
  /** Months made ahead of the current one: a quarter, so an instance down for weeks still finds its month ready. */
  monthsAhead: 3,
  /** How often each instance makes the months ahead (one catalog probe per month when they exist). */
  maintenanceIntervalMs: 6 * 60 * 60 * 1000,
} as const;

/** A month as the CLI and the partitions' names spell it: `YYYY-MM` (UTC). */
export type Month = `${number}-${number}`;

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** `YYYY-MM` checked (a ConfigError names `field`), as a month. */
export function parseMonth(raw: string, field: string): Month {
  const match = MONTH.exec(raw);
  if (!match || Number(match[1]) < 1970) throw new ConfigError(field, `must be a month YYYY-MM (1970-01 or later), got ${raw}`);
  return raw as Month;
}

export function monthOfDate(date: Date): Month {
  return `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, '0')}` as Month;
}

/** The month `count` months after `month` (before, for a negative count). */
export function addMonths(month: Month, count: number): Month {
  const [year, mon] = month.split('-').map(Number) as [number, number];
  return monthOfDate(new Date(Date.UTC(year, mon - 1 + count, 1)));
}

/** The smallest UUID of the month's first millisecond: the month's lower partition bound (as orders.month_bound). */
export function monthBound(month: Month): string {
  const [year, mon] = month.split('-').map(Number) as [number, number];
  const hex = Date.UTC(year, mon - 1, 1).toString(16).padStart(12, '0') + '0'.repeat(20);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The suffix of a month's partitions: `orders_y2026m01`, `order_lines_y2026m01`, `order_history_y2026m01`. */
export function partitionSuffix(month: Month): string {
  return `y${month.slice(0, 4)}m${month.slice(5, 7)}`;
}

/**
 * Makes the partitions of `now`'s month and of the `monthsAhead` after it, and of every month the
 * default partition holds orders of (those move in). Safe while orders are written and when
 * several instances run it at once. Returns the months it made.
 */
export async function ensureMonthPartitions(storage: Storage, now: Date, monthsAhead: number = MONTH_PARTITIONS.monthsAhead): Promise<Month[]> {
  if (!Number.isInteger(monthsAhead) || monthsAhead < 0 || monthsAhead > 24) throw new RangeError(`monthsAhead must be 0..24, got ${monthsAhead}`);
  const current = monthOfDate(now);
  const months = new Set<Month>(Array.from({ length: monthsAhead + 1 }, (_, i) => addMonths(current, i)));
  for (const month of await monthsInDefault(storage)) months.add(month);
  const made: Month[] = [];
  for (const month of [...months].sort()) {
    const [row] = await storage.query<{ made: boolean }>(sql`select orders.ensure_month_partition(${`${month}-01`}::date) as made`);
    if (row?.made) made.push(month);
  }
  return made;
}

/** The months of the UUIDv7 orders sitting in the default partition (other ids have no month and stay there). */
async function monthsInDefault(storage: Storage): Promise<Month[]> {
  const rows = await storage.query<{ month: string }>(
    sql`select distinct to_char(orders.id_month(id), 'YYYY-MM') as month from orders.orders_default where substr(id::text, 15, 1) = '7'`,
  );
  return rows.map((r) => r.month as Month);
}

/** The months that have partitions on this shard, oldest first. */
export async function monthPartitions(storage: Storage): Promise<Month[]> {
  const rows = await storage.query<{ name: string }>(sql`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'orders.orders'::regclass and c.relname ~ '^orders_y[0-9]{4}m[0-9]{2}$' order by c.relname`);
  return rows.map((r) => `${r.name.slice(8, 12)}-${r.name.slice(13, 15)}` as Month);
}

/**
 * Every instance makes the months ahead on every shard: at start, on each shard a map change
 * adds, and every {@link MONTH_PARTITIONS.maintenanceIntervalMs}.
 */
export class MonthPartitionMaintenance {
  private readonly task = new PeriodicTask(
    () => this.runOnce(),
    (err) => this.logger.error({ err }, 'making order partitions ahead failed; the next round retries (orders of a missing month go to the default partition)'),
  );
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly router: ShardRouter,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async start(intervalMs: number = MONTH_PARTITIONS.maintenanceIntervalMs): Promise<void> {
    await this.runOnce();
    this.unsubscribe ??= this.router.onChange?.(() => {
      this.runOnce().catch((err: unknown) => this.logger.error({ err }, 'making order partitions on a new shard failed; the next round retries'));
    });
    this.task.start(intervalMs);
  }

  async runOnce(): Promise<void> {
    for (const shard of this.router.all()) {
      const made = await ensureMonthPartitions(shard.storage, this.clock.now());
      if (made.length > 0) this.logger.info({ shard: shard.id, months: made }, 'order partitions made');
    }
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.task.stop();
  }
}
