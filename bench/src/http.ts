import { Pool } from 'undici';

export const HTTP_LIMITS = {
  /** A request that takes longer than this counts as an error. */
  requestTimeoutMs: 30_000,
} as const;

export interface HttpResult {
  status: number;
  body: unknown;
  ms: number;
}

/** A pool of keep-alive connections to one loopback server; one connection per concurrent client. */
export class LoopbackClient {
  private readonly pool: Pool;

  constructor(
    readonly origin: string,
    connections: number,
  ) {
    const url = new URL(origin);
    if (url.hostname !== '127.0.0.1') throw new Error(`the bench only targets 127.0.0.1, not ${url.hostname}`);
    this.pool = new Pool(origin, {
      connections,
      pipelining: 1,
      headersTimeout: HTTP_LIMITS.requestTimeoutMs,
      bodyTimeout: HTTP_LIMITS.requestTimeoutMs,
      keepAliveTimeout: 60_000,
    });
  }

  /** One request; the answer's JSON is parsed when `parse` is set or the status is an error. */
  async request(method: 'GET' | 'POST' | 'PUT', path: string, options: { token?: string; body?: unknown; headers?: Record<string, string>; parse?: boolean } = {}): Promise<HttpResult> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const began = performance.now();
    const response = await this.pool.request({ method, path, headers, ...(payload === undefined ? {} : { body: payload }) });
    // The whole body is read, as a real client would; it is parsed only when someone looks at it.
    const text = await response.body.text();
    const ms = performance.now() - began;
    let body: unknown;
    if (options.parse || response.statusCode >= 400) {
      try {
        body = text.length > 0 ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
    }
    return { status: response.statusCode, body, ms };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** `code` of a problem+json body, for error breakdowns. */
export function problemCode(body: unknown): string | undefined {
  return typeof body === 'object' && body !== null && 'code' in body && typeof (body as { code: unknown }).code === 'string' ? (body as { code: string }).code : undefined;
}

/** Runs `work` over `items` with at most `concurrency` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  });
  await Promise.all(lanes);
  return results;
}
