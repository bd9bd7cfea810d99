/** A PgBouncer of a test's own: shared with `agora chaos`, so it lives in @agora/platform/testing. */
export {
  PGBOUNCER_LIMITS,
  pgbouncerAvailable,
  startPgbouncer,
  type RunningPgbouncer,
} from '@agora/platform/testing';
