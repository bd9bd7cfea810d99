import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError, LIMITS, newId, problemOf, toProblem, validationError, type ErrorCode, type FieldError, type Problem } from '@agora/kernel';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { unavailableFor } from '../resilience/faults.js';
import { unacceptableInput } from './hostile-input.js';
import { fieldErrors, validatorCompiler } from './validation.js';

export type HttpApp = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface HttpAppOptions {
  /** Service name, used in logs and metric labels. */
  name: string;
  logger: Logger;
  metrics?: Metrics;
  bodyLimit?: number;
  /** Behind a proxy (nginx), trust X-Forwarded-For for the client address. */
  trustProxy?: boolean;
}

const REQUEST_ID = /^[\w\-.:]{1,128}$/;

/** Longest path parameter the router takes (ids are 36, SKUs 64); longer is a 400 naming the url. */
export const ROUTE_PARAM_CHARS_MAX = 200;

/** The raw HTTP answer to a request the parser refused: 400 as problem+json, and the connection closes. */
function clientErrorResponse(error: Error): string {
  const detail = (error as NodeJS.ErrnoException).code === 'HPE_HEADER_OVERFLOW' ? 'The request headers are larger than the server accepts' : 'The request is not valid HTTP';
  const body = JSON.stringify(problemOf('VALIDATION_FAILED', detail, [{ path: 'request', message: detail }]));
  return `HTTP/1.1 400 Bad Request\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function sendProblem(reply: FastifyReply, problem: Problem, retryAfterSeconds?: number): FastifyReply {
  if (retryAfterSeconds !== undefined) reply.header('retry-after', String(retryAfterSeconds));
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

/** Fastify's own errors (body parsing, limits) as typed problems; undefined for anything else. */
function frameworkProblem(error: FastifyError): Problem | undefined {
  const map: Record<string, [ErrorCode, string]> = {
    FST_ERR_CTP_BODY_TOO_LARGE: ['PAYLOAD_TOO_LARGE', `Request body is larger than ${LIMITS.bodyBytes} bytes`],
    FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json'],
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['VALIDATION_FAILED', 'Content-Length does not match the body'],
    FST_ERR_CTP_EMPTY_JSON_BODY: ['VALIDATION_FAILED', 'Body must not be empty when Content-Type is application/json'],
    FST_ERR_CTP_INVALID_JSON_BODY: ['VALIDATION_FAILED', 'Body is not valid JSON'],
  };
  const known = error.code ? map[error.code] : undefined;
  if (known) {
    const [code, detail] = known;
    return problemOf(code, detail, code === 'VALIDATION_FAILED' ? [{ path: 'body', message: detail }] : undefined);
  }
  if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/i.test(error.message))) {
    return problemOf('VALIDATION_FAILED', 'Body is not valid JSON', [{ path: 'body', message: error.message }]);
  }
  if (error.statusCode === 429) return problemOf('RATE_LIMITED', error.message || 'Rate limit exceeded');
  if (error.statusCode === 413) return problemOf('PAYLOAD_TOO_LARGE', error.message);
  if (error.statusCode === 415) return problemOf('UNSUPPORTED_MEDIA_TYPE', error.message);
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return problemOf('VALIDATION_FAILED', error.message, [{ path: 'request', message: error.message }]);
  }
  return undefined;
}

/**
 * A Fastify app with the conventions every Agora HTTP surface shares: request ids, strict body
 * validation naming the field, problem+json for every error (404 routes, bad JSON, 413), metrics.
 */
export function createHttpApp(options: HttpAppOptions): HttpApp {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit ?? LIMITS.bodyBytes,
    trustProxy: options.trustProxy ?? false,
    requestIdHeader: false,
    genReqId: (req) => {
      const sent = req.headers['x-request-id'];
      return typeof sent === 'string' && REQUEST_ID.test(sent) ? sent : newId();
    },
    // Our onResponse hook logs what matters (failures at warn, the rest at debug).
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: ROUTE_PARAM_CHARS_MAX },
    // The router's own refusals (bad percent-encoding, an over-long path parameter) as problems too.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id);
      const detail = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? `A path segment is longer than ${ROUTE_PARAM_CHARS_MAX} characters` : 'The path is not valid percent-encoding';
      return sendProblem(reply, problemOf('VALIDATION_FAILED', detail, [{ path: 'url', message: detail }]));
    },
    // What the HTTP parser refuses before any route (a bad request line, a header without a colon,
    // headers over the size limit, Content-Length with Transfer-Encoding, ...): a problem, then
    // close. A client too slow to send its request gets nothing: it is closed, as it would be.
    clientErrorHandler: (error, socket) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNRESET' || socket.destroyed) return;
      if (code !== 'ERR_HTTP_REQUEST_TIMEOUT' && socket.writable) socket.write(clientErrorResponse(error));
      socket.destroy(error);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSchemaErrorFormatter((errors, dataVar) => {
    const err = new AppError('VALIDATION_FAILED', `Invalid ${dataVar}`, { errors: fieldErrors(errors, dataVar) });
    return err as unknown as Error;
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // Before any route's schema: what no route may take (NUL, absurd nesting) is a 400 naming the field.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined || request.body === null) return;
    const offence = unacceptableInput(request.body, LIMITS.jsonDepth);
    if (offence) throw validationError([offence]);
  });

  const metrics = options.metrics;
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = String(reply.statusCode);
    const elapsed = reply.elapsedTime / 1000;
    if (metrics) {
      const labels = { service: options.name, method: request.method, route, status };
      metrics.httpDuration.observe(labels, elapsed);
      metrics.httpRequests.inc(labels);
    }
    if (reply.statusCode >= 500) request.log.warn({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request failed');
    else request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });

  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof AppError) {
      return sendProblem(reply, toProblem(error), error.retryAfterSeconds);
    }
    if (error.validation) {
      const context = error.validationContext ?? 'body';
      const errors: FieldError[] = fieldErrors(error.validation, context);
      return sendProblem(reply, problemOf('VALIDATION_FAILED', errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors));
    }
    const framework = frameworkProblem(error);
    if (framework) {
      const retryAfter = reply.getHeader('retry-after');
      return sendProblem(reply, framework, retryAfter === undefined ? undefined : Number(retryAfter));
    }
    // A transient fault (the database out of connections, a deadlock, ...) is a 503 with Retry-After, not a 500.
    const unavailable = unavailableFor(error, options.name);
    if (unavailable) {
      request.log.warn({ err: error }, 'transient fault');
      return sendProblem(reply, toProblem(unavailable), unavailable.retryAfterSeconds);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, toProblem(error));
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problemOf('NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`)),
  );

  return app as unknown as HttpApp;
}
