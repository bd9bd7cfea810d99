/**
 * `@agora/order/months`: the order shards' month partitions and their archive, for the operators'
 * tools (`agora orders archive`, apps/agora/src/orders-archive.ts).
 */
export { ensureMonthPartitions, monthOfDate, monthPartitions, parseMonth, type Month } from './partitions.js';
export { ARCHIVED_TABLES, MonthChangedError, dropMonth, exportMonth, monthReadiness, type ArchivedTable, type MonthDigest } from './month-archive.js';
