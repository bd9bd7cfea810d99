import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError, LIMITS, newId, problemOf, toProblem, validationError, type ErrorCode, type FieldError, type Problem } from '@agora/kernel';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { unavailableFor } from '../resilience/faults.js';
import { unacceptableInput } from './hostile-input.js';
import { traceRequests } from './tracing.js';
import { tracingActive } from '../telemetry/tracing.js';
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

/** Bytes of a too-large body read and thrown away before the 413, so a client still sending it reads the answer instead of EPIPE. */
export const OVERSIZED_BODY_DRAIN_BYTES = 16 * LIMITS.bodyBytes;
/** How long the server keeps reading a too-large body before it answers 413 anyway. */
export const OVERSIZED_BODY_DRAIN_MS = 5_000;

/** A problem written straight to a socket or a bare response, outside Fastify: with a request id, then the connection closes. */
function rawProblem(status: number, reason: string, problem: Problem): { head: Record<string, string | number>; body: string; line: string } {
  const body = JSON.stringify({ ...problem, status });
  return {
    line: `HTTP/1.1 ${status} ${reason}`,
    head: { 'Content-Type': PROBLEM_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), 'X-Request-Id': newId(), Connection: 'close' },
    body,
  };
}

/**
 * The raw HTTP answer to a request the parser refused: problem+json with a request id (431 for
 * headers over the size limit, else 400), and the connection closes.
 */
function clientErrorResponse(error: Error): string {
  const oversized = (error as NodeJS.ErrnoException).code === 'HPE_HEADER_OVERFLOW';
  const detail = oversized ? 'The request headers are larger than the server accepts' : 'The request is not valid HTTP';
  const answer = rawProblem(oversized ? 431 : 400, oversized ? 'Request Header Fields Too Large' : 'Bad Request', problemOf('VALIDATION_FAILED', detail, [{ path: oversized ? 'headers' : 'request', message: detail }]));
  const head = Object.entries(answer.head).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  // The answer to a HEAD has no body, even this one (a client reading it would take the body for garbage).
  const toHead = (error as { rawPacket?: Buffer }).rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
  return `${answer.line}\r\n${head}\r\n${toHead ? '' : answer.body}`;
}

/** Node's own answers that would bypass Fastify (an Expect it cannot meet, CONNECT) as problems too. */
function answerOutsideFastify(server: Server): void {
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const detail = `Expect: ${String(request.headers.expect)} cannot be met; only 100-continue is`;
    const answer = rawProblem(417, 'Expectation Failed', problemOf('VALIDATION_FAILED', detail, [{ path: 'headers.expect', message: detail }]));
    response.writeHead(417, answer.head).end(answer.body);
  });
  server.on('connect', (_request: IncomingMessage, socket: Duplex) => {
    const detail = 'CONNECT is not supported';
    const answer = rawProblem(405, 'Method Not Allowed', problemOf('VALIDATION_FAILED', detail, [{ path: 'method', message: detail }]));
    const head = Object.entries(answer.head).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.end(`${answer.line}\r\n${head}\r\n${answer.body}`);
  });
}

/**
 * Reads and discards what is left of a request body, up to `maxBytes` or `maxMs`, so the answer
 * sent after it reaches a client that writes its whole body before reading (Node's fetch does).
 */
function drainBody(raw: IncomingMessage, maxBytes: number, maxMs: number): Promise<void> {
  if (raw.readableEnded || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = (): void => {
      clearTimeout(timer);
      raw.off('data', onData).off('end', done).off('error', done).off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > maxBytes) done();
    };
    const timer = setTimeout(done, maxMs);
    raw.on('data', onData).on('end', done).on('error', done).on('close', done);
    raw.resume();
  });
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Sends JSON that is text already (a cache's value) as it is. Fastify types `send` by the route's
 * response schema; a string with a JSON content type skips that serializer, so the text is typed
 * through `never` here only.
 */
export function sendJsonText(reply: FastifyReply, text: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(text as never);
}

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
    // Node would answer a missing Host itself (an empty 400); the onRequest hook below answers a problem.
    http: { requireHostHeader: false },
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

  answerOutsideFastify(app.server);

  // First of the hooks, so every later hook and the handler run inside the request's span.
  if (tracingActive()) traceRequests(app as unknown as FastifyInstance, options.name);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      throw validationError([{ path: 'headers.host', message: 'is required in HTTP/1.1' }]);
    }
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
    if (framework?.code === 'PAYLOAD_TOO_LARGE') {
      // Fastify refused the body without reading it: read the rest (bounded) so the client sees the 413.
      reply.header('connection', 'close');
      return drainBody(request.raw, OVERSIZED_BODY_DRAIN_BYTES, OVERSIZED_BODY_DRAIN_MS).then(() => {
        sendProblem(reply, framework);
      });
    }
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
