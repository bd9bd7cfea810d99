import type { Caller } from '../http/caller.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ServiceRequest {
  method: HttpMethod;
  /** Path on the service, with the query string already encoded if any. */
  path: string;
  body?: unknown;
  /** A body sent byte for byte (signed webhooks); takes the place of `body`. */
  rawBody?: string;
  headers?: Record<string, string>;
  /**
   * The signed-in user the call is made for, if any: the transport's caller assertion names it
   * (AssertingTransport). Never sent as a header of its own; a service reads no such header.
   */
  caller?: Caller;
  /** Idempotent calls may be retried by transports that retry (GETs always are). */
  idempotent?: boolean;
}

export interface ServiceResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON when the service answered JSON, otherwise the raw text. */
  body: unknown;
}

/**
 * How one service reaches another. `agora start` uses the in-process transport; the cluster backs
 * the same interface with HTTP, discovery, load balancing and resilience.
 */
export interface ServiceTransport {
  request(service: string, request: ServiceRequest): Promise<ServiceResponse>;
}
