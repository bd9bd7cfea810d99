import { AppError, fromProblem, toProblem } from '@agora/kernel';
import type { Logger } from '../telemetry/logger.js';
import { unavailableFor } from '../resilience/faults.js';
import { ATTR_AGORA_SERVICE } from '../http/tracing.js';
import { inSpan, tracingActive } from '../telemetry/tracing.js';

/**
 * The edge of a service's in-process port adapter: a call fails as it would over HTTP. An AppError
 * passes as it is (its code, field errors and extras are what the problem would carry); anything
 * transient (resilience/faults.ts) becomes the 503 UNAVAILABLE an HTTP answer would carry; anything
 * else is logged by the callee, as its HTTP error handler does, and becomes the same INTERNAL
 * error the caller would rebuild from the 500 problem, with no internals leaked.
 */
export class InProcessBoundary {
  constructor(
    readonly service: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Runs one port operation. While tracing is on it is a span `<service>.<operation>` (what the
   * client and server spans of an HTTP call are in the cluster), nested in the caller's span.
   */
  run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    if (!tracingActive()) return this.answer(operation, call);
    return inSpan(`${this.service}.${operation}`, { attributes: { [ATTR_AGORA_SERVICE]: this.service } }, () => this.answer(operation, call));
  }

  private async answer<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof AppError) throw error;
      const unavailable = unavailableFor(error, this.service);
      if (unavailable) throw unavailable;
      this.logger.error({ err: error, service: this.service, operation }, 'unhandled error');
      throw fromProblem(toProblem(error));
    }
  }
}
