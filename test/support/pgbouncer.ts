/** A PgBouncer of a test's own: shared with `agora chaos`, so it lives in @agora/platform/testing. */
export {
  PGBOUNCER,
  PGBOUNCER_LIMITS,
  PGBOUNCER_PREPARED_STATEMENTS_SINCE,
  keepsNamedStatements,
  pgbouncerAvailable,
  pgbouncerVersion,
  startPgbouncer,
  type RunningPgbouncer,
} from '@agora/platform/testing';
