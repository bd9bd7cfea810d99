import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '@agora/kernel';
import { OVERSIZED_BODY_DRAIN_BYTES } from '@agora/platform';
import { fuzzSeed, openWorld, postgresVariant, type FuzzWorld } from './fixture.js';
import { answerFault, rawExchange, type RawAnswer } from './wire.js';

/**
 * The HTTP parser's own refusals, at the TCP level: what the gateway answers to bytes that are not
 * a valid HTTP/1.1 request is problem+json with a code and a request id (4xx), never silence, a
 * bare Node answer or a 5xx; and it keeps serving afterwards.
 */

/** Bytes of headers Node's parser takes (its default maxHeaderSize); past it the answer is 431. */
const HEADER_BYTES_MAX = 16 * 1024;
/** A too-large body the server must read (and drop) before it answers: within what it drains. */
const OVERSIZED_WRITE_BYTES = OVERSIZED_BODY_DRAIN_BYTES / 2;
/** Mutated requests sent by the property (each gets an answer in well under a second). */
const MUTATIONS = 300;

const CRLF = '\r\n';
const request = (head: string, body = ''): string => `${head}${CRLF}${CRLF}${body}`;

/** Hand-written malformed requests, each with the status it must get. */
const CRAFTED: readonly { name: string; bytes: string | Buffer; status: number | 'any4xx'; head?: boolean; whole?: boolean }[] = [
  { name: 'bad request line', bytes: request('GARBAGE'), status: 400 },
  { name: 'header without a colon', bytes: request('GET /api/v1/products HTTP/1.1\r\nHost: x\r\nNoColonHere'), status: 400 },
  { name: 'Content-Length with Transfer-Encoding', bytes: request('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked', '0\r\n\r\n'), status: 400 },
  { name: `headers over ${HEADER_BYTES_MAX} bytes`, bytes: request(`GET /api/v1/products HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(HEADER_BYTES_MAX + 1_000)}`), status: 431 },
  { name: 'request line over the header limit', bytes: request(`GET /api/v1/products?q=${'a'.repeat(HEADER_BYTES_MAX + 1_000)} HTTP/1.1\r\nHost: x`), status: 431 },
  { name: 'HEAD with oversized headers (no body in the answer)', bytes: request(`HEAD /api/v1/products HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(HEADER_BYTES_MAX + 1_000)}`), status: 431, head: true },
  { name: 'bad chunk size', bytes: request('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked', 'zz\r\n{}\r\n0\r\n\r\n'), status: 400 },
  { name: 'Transfer-Encoding other than chunked last', bytes: request('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip', '0\r\n\r\n'), status: 400 },
  { name: 'invalid method token', bytes: request('G@T /api/v1/products HTTP/1.1\r\nHost: x'), status: 400 },
  { name: 'HTTP/2 preface on an HTTP/1.1 port', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', status: 400 },
  { name: 'unknown HTTP version', bytes: request('GET /api/v1/products HTTP/9.9\r\nHost: x'), status: 400 },
  { name: 'NUL in a header value', bytes: request('GET /api/v1/products HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b'), status: 400 },
  { name: 'space before the colon', bytes: request('GET /api/v1/products HTTP/1.1\r\nHost : x'), status: 400 },
  { name: 'obsolete line folding', bytes: request('GET /api/v1/products HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded'), status: 'any4xx' },
  { name: 'two different Content-Lengths', bytes: request('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3', '{}'), status: 400 },
  { name: 'Content-Length that is not a number', bytes: request('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc', '{}'), status: 400 },
  { name: 'body shorter than its Content-Length, then EOF', bytes: request('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50', '{"email":'), status: 400 },
  { name: 'bad percent-encoding in the path', bytes: request('GET /api/v1/products/%ff HTTP/1.1\r\nHost: x'), status: 400 },
  { name: 'raw non-ASCII byte in the path', bytes: Buffer.concat([Buffer.from('GET /api/v1/inventory/'), Buffer.from([0xff, 0xfe]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]), status: 'any4xx' },
  { name: 'path parameter over 200 characters on a write', bytes: request(`PUT /api/v1/admin/inventory/${'a'.repeat(300)} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2`, '{}'), status: 400 },
  { name: 'no Host in HTTP/1.1', bytes: request('GET /api/v1/products HTTP/1.1'), status: 400 },
  { name: 'an Expect the server cannot meet', bytes: request('GET /api/v1/products HTTP/1.1\r\nHost: x\r\nExpect: something-odd'), status: 417 },
  { name: 'CONNECT', bytes: request('CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443'), status: 405 },
  { name: 'bare LF line endings', bytes: 'GET /api/v1/nothing HTTP/1.1\nHost: x\n\n', status: 'any4xx' },
  {
    name: `a body over ${LIMITS.bodyBytes} bytes, written whole before reading`,
    bytes: request(`POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${2 * LIMITS.bodyBytes}`, ' '.repeat(2 * LIMITS.bodyBytes)),
    status: 413,
  },
  {
    // Larger than the socket buffers take at once: had the server closed without reading, the writer would get EPIPE.
    name: `a body of ${OVERSIZED_WRITE_BYTES / LIMITS.bodyBytes} MiB written whole, with no EPIPE`,
    bytes: request(`POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${OVERSIZED_WRITE_BYTES}`, ' '.repeat(OVERSIZED_WRITE_BYTES)),
    status: 413,
    whole: true,
  },
];

function rawFault(method: string, answer: RawAnswer | undefined): string | undefined {
  if (!answer) return 'no answer';
  return answerFault(method, { status: answer.status, headers: answer.headers, text: answer.text });
}

describe.runIf(await postgresVariant.available())('the HTTP parser at the TCP level, on the gateway', () => {
  let world: FuzzWorld;
  let port: number;
  beforeAll(async () => {
    world = await openWorld();
    port = Number(new URL(world.api.baseUrl).port);
  });
  afterAll(async () => world?.shop.stop());

  for (const crafted of CRAFTED) {
    it(`${crafted.name}: ${crafted.status === 'any4xx' ? 'a 4xx' : crafted.status} problem+json`, async () => {
      const answer = await rawExchange(port, crafted.bytes);
      expect(rawFault(crafted.head ? 'HEAD' : 'GET', answer), answer?.raw.slice(0, 500)).toBeUndefined();
      if (crafted.status === 'any4xx') expect(answer?.status).toBeGreaterThanOrEqual(400);
      else expect(answer?.status, answer?.raw.slice(0, 500)).toBe(crafted.status);
      if (crafted.head) expect(answer?.text).toBe('');
      if (crafted.whole) expect(answer?.socketError).toBeUndefined();
    });
  }

  it(`${MUTATIONS} mutated request heads: each answered below 500, every 4xx problem+json; the gateway keeps serving`, async () => {
    const seed = fuzzSeed('parser');
    const valid = 'GET /api/v1/products?limit=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nX-Request-Id: abc';
    const junk = fc.constantFrom('\u0000', '\r', '\n', '\r\n', ' ', ':', '\u007f', '\u00ff', '\t', '%', '"', '(', '@', '\u0001', 'HTTP/1.1', 'Content-Length: 3', 'Transfer-Encoding: chunked');
    const edit = fc.oneof(
      fc.record({ at: fc.nat(valid.length), insert: junk, remove: fc.constant(0) }),
      fc.record({ at: fc.nat(valid.length), insert: fc.constant(''), remove: fc.integer({ min: 1, max: 8 }) }),
    );
    const mutants = fc.sample(
      fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => edits.reduce((head, e) => head.slice(0, e.at) + e.insert + head.slice(e.at + e.remove), valid)),
      { seed, numRuns: MUTATIONS },
    );
    const faults: string[] = [];
    for (const head of mutants) {
      const answer = await rawExchange(port, Buffer.from(request(head), 'latin1'));
      const fault = rawFault(head.startsWith('HEAD') ? 'HEAD' : 'GET', answer);
      if (fault) faults.push(`${JSON.stringify(head)} → ${fault}`);
    }
    expect(faults, `replay with AGORA_FUZZ_SEED=${seed}\n${faults.slice(0, 10).join('\n')}`).toEqual([]);
    expect((await world.api.get('/health/live')).status).toBe(200);
  });
});
