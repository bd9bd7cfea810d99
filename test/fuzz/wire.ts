import http from 'node:http';
import net from 'node:net';

/** One request exactly as the fuzzer sends it (no client-side normalisation beyond Node's own checks). */
export interface WireRequest {
  method: string;
  /** Path and query, already encoded as it goes on the wire. */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

export interface WireAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** How long one fuzzed request may take before the fuzzer calls it hung. */
export const REQUEST_TIMEOUT_MS = 15_000;
/** Bytes of an answer kept for the checks (problem documents are small; pages are cut). */
const ANSWER_BYTES_KEPT = 64 * 1024;

/** Sends `request` over `agent` and reads the answer; rejects on a transport error or timeout. */
export function send(baseUrl: string, agent: http.Agent, request: WireRequest): Promise<WireAnswer> {
  const url = new URL(baseUrl);
  // A body always goes with its length: Node would send a GET's body without one, as the start of another request.
  const headers = request.body === undefined ? request.headers : { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) };
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: request.method, path: request.path, headers, agent, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept < ANSWER_BYTES_KEPT) chunks.push(chunk);
          kept += chunk.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    if (request.body !== undefined) req.end(request.body);
    else req.end();
  });
}

/** What is wrong with an answer, or undefined: a 5xx, or a 4xx that is not problem+json with a code and a request id. */
export function answerFault(method: string, answer: Pick<WireAnswer, 'status' | 'headers' | 'text'>): string | undefined {
  if (answer.status >= 500) return `answered ${answer.status}: ${answer.text.slice(0, 300)}`;
  if (answer.status < 400) return undefined;
  const type = String(answer.headers['content-type'] ?? '');
  if (!type.startsWith('application/problem+json')) return `answered ${answer.status} as ${type || 'no content type'}: ${answer.text.slice(0, 300)}`;
  const requestId = answer.headers['x-request-id'];
  if (typeof requestId !== 'string' || requestId.length === 0) return `answered ${answer.status} without x-request-id`;
  if (method === 'HEAD') return undefined;
  let problem: unknown;
  try {
    problem = JSON.parse(answer.text);
  } catch {
    return `answered ${answer.status} with a body that is not JSON: ${answer.text.slice(0, 300)}`;
  }
  const { code, status } = (problem ?? {}) as { code?: unknown; status?: unknown };
  if (typeof code !== 'string' || code.length === 0) return `answered ${answer.status} with a problem without a code: ${answer.text.slice(0, 300)}`;
  if (status !== answer.status) return `answered ${answer.status} with a problem whose status is ${String(status)}`;
  return undefined;
}

/** A raw HTTP answer read off a socket: status, lower-cased headers, body. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** Everything the server wrote, for failure messages. */
  raw: string;
  /** The socket's error, if any (EPIPE: the server stopped reading before the request was written). */
  socketError?: string;
}

/** How long a raw exchange waits for the server to answer and close. */
export const RAW_TIMEOUT_MS = 5_000;
/** How long it waits for an answer before half-closing the connection (a request still incomplete is then a parse error). */
export const RAW_GRACE_MS = 1_000;

/**
 * Writes `bytes` to a fresh TCP connection and reads until the server closes it or the first
 * answer is complete. With no answer after RAW_GRACE_MS it half-closes the connection: the server
 * then knows nothing more is coming (never earlier, as Node drops a request whose client half-closed).
 * Undefined when nothing came back.
 */
export function rawExchange(port: number, bytes: Buffer | string): Promise<RawAnswer | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let settled = false;
    let socketError: string | undefined;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      socket.destroy();
      const answer = parseRawAnswer(Buffer.concat(chunks).toString('latin1'));
      resolve(answer && socketError !== undefined ? { ...answer, socketError } : answer);
    };
    const timer = setTimeout(finish, RAW_TIMEOUT_MS);
    const grace = setTimeout(() => {
      if (chunks.length === 0 && socket.writable) socket.end();
    }, RAW_GRACE_MS);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const answer = parseRawAnswer(Buffer.concat(chunks).toString('latin1'));
      if (answer && Buffer.byteLength(answer.text, 'latin1') >= Number(answer.headers['content-length'] ?? Infinity)) finish();
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      socketError = err.code ?? err.message;
      finish();
    });
    socket.write(bytes);
  });
}

function parseRawAnswer(raw: string): RawAnswer | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(match[1]), headers, text: raw.slice(end + 4), raw };
}
