import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { activeTraceIds } from './tracing.js';

export type { Logger } from 'pino';

/**
 * JSON logs; `AGORA_LOG_LEVEL` sets the level (default info, `silent` in tests). A line written
 * inside a traced span carries its `trace_id` and `span_id` (docs/operations.md, Traces).
 */
export function createLogger(name: string, level: string = process.env.AGORA_LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    // pino merges the line's own fields INTO the mixin's object: always a fresh one, never a shared (or frozen) one.
    mixin: () => activeTraceIds() ?? {},
    redact: { paths: ['req.headers.authorization', '*.password', 'password'], censor: '[redacted]' },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
