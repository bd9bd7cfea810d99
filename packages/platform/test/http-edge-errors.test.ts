import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp, createLogger, type HttpApp } from '../src/index.js';

/** Sends raw bytes and reads the whole answer until the server closes (bounded by a timeout). */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within 5 s; got ${answer.slice(0, 200)}`));
    }, 5_000);
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', () => undefined);
    socket.write(request);
  });
}

function problemIn(answer: string): { status: string; type: string; body: Record<string, unknown> } {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  return { status: head.split('\r\n')[0] ?? '', type: /content-type: ([^\r\n]+)/i.exec(head)?.[1] ?? '', body: JSON.parse(body) as Record<string, unknown> };
}

describe('4xx answers from below the routes are problems too', () => {
  let app: HttpApp;
  let port: number;
  beforeAll(async () => {
    app = createHttpApp({ name: 'edge-test', logger: createLogger('edge-test', 'silent') });
    app.get('/things/:id', async (request) => ({ id: (request.params as { id: string }).id }));
    app.post('/things/:id', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  afterAll(async () => app.close());

  it('bad percent-encoding and an over-long path parameter: 400 problem+json with a code and a request id', async () => {
    for (const [method, url] of [
      ['GET', '/things/%ff'],
      ['POST', `/things/${'x'.repeat(300)}`],
    ] as const) {
      const res = await app.inject({ method, url });
      expect(res.statusCode, url).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.headers['x-request-id']).toBeDefined();
      expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'url' }] });
    }
  });

  it("the HTTP parser's own refusals: a 4xx problem+json, then the connection closes", async () => {
    for (const [request, status] of [
      ['GARBAGE\r\n\r\n', 400],
      ['GET /things/1 HTTP/1.1\r\nHost: x\r\nno-colon-here\r\n\r\n', 400],
      ['POST /things/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc', 400],
      [`GET /things/1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    ] as const) {
      const answer = problemIn(await raw(port, request));
      expect(answer.status, request.slice(0, 40)).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(answer.type).toBe('application/problem+json');
      expect(answer.body).toMatchObject({ status, code: expect.any(String) });
    }
  });
});
