import type { Redis } from 'ioredis';
import { ATTR_DB_OPERATION_NAME, ATTR_DB_SYSTEM_NAME } from '@opentelemetry/semantic-conventions';
import { SpanKind, hasActiveSpan, recordSpanError, startSpan, tracingActive } from './tracing.js';

/** `db.system.name` of Redis (OpenTelemetry's value). */
export const DB_SYSTEM_REDIS = 'redis';

/** What ioredis hands `sendCommand`: the command's name and the promise of its reply. */
interface RedisCommand {
  name: string;
  promise: Promise<unknown>;
}

/**
 * A CLIENT span per command sent on `redis` (`db.operation.name` = the command, `EVALSHA` for a
 * script; keys and arguments are never recorded), only inside a traced span, so heartbeats and
 * other background chatter make no traces. Returns `redis` itself; nothing is wrapped while
 * tracing is off. ioredis may pass one command through `sendCommand` more than once (its offline
 * queue, a resend after a reconnect): it gets one span.
 */
export function traceRedis<R extends Redis>(redis: R): R {
  if (!tracingActive()) return redis;
  const seen = new WeakSet<RedisCommand>();
  const send = redis.sendCommand.bind(redis) as (command: RedisCommand, stream?: unknown) => unknown;
  (redis as unknown as { sendCommand: typeof send }).sendCommand = (command, stream) => {
    if (!seen.has(command) && hasActiveSpan()) {
      seen.add(command);
      const operation = command.name.toUpperCase();
      const span = startSpan(operation, { kind: SpanKind.CLIENT, attributes: { [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_REDIS, [ATTR_DB_OPERATION_NAME]: operation } });
      command.promise.then(
        () => span?.end(),
        (error: unknown) => {
          if (span) {
            recordSpanError(span, error);
            span.end();
          }
        },
      );
    }
    return send(command, stream);
  };
  return redis;
}
