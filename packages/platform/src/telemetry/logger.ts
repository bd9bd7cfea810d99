import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** JSON logs; `AGORA_LOG_LEVEL` sets the level (default info, `silent` in tests). */
export function createLogger(name: string, level: string = process.env.AGORA_LOG_LEVEL ?? 'info'): Logger {
  const options: LoggerOptions = {
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', '*.password', 'password'], censor: '[redacted]' },
  };
  return pino(options);
}
