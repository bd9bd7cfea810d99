/**
 * `@agora/order/months`: the order shards' month partitions and their archive, for the operators'
 * tools (`agora orders archive`, apps/agora/src/orders-archive.ts).
 */
export { MONTH_PARTITIONS, addMonths, ensureMonthPartitions, monthOfDate, monthPartitions, parseMonth, type Month } from './partitions.js';
export { ARCHIVED_TABLES, MONTH_ARCHIVE_LIMITS, MonthChangedError, dropMonth, exportMonth, monthReadiness, type ArchivedTable, type MonthDigest, type MonthReadiness } from './month-archive.js';
