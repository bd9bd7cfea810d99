import { AppError, isProblem, fromProblem } from '@agora/kernel';
import type { ServiceRequest, ServiceResponse, ServiceTransport } from './transport.js';

/** Headers a call carries from the request that caused it. */
export interface CallContext {
  requestId?: string;
  headers?: Record<string, string>;
}

/**
 * A typed-result client for one service over any transport. A problem+json answer becomes the
 * same AppError the service raised, so errors keep their code across the hop.
 */
export class ServiceClient {
  constructor(
    readonly service: string,
    private readonly transport: ServiceTransport,
  ) {}

  raw(request: ServiceRequest, context: CallContext = {}): Promise<ServiceResponse> {
    const headers: Record<string, string> = { ...context.headers, ...request.headers };
    if (context.requestId) headers['x-request-id'] = context.requestId;
    return this.transport.request(this.service, { ...request, headers });
  }

  async call<T>(request: ServiceRequest, context: CallContext = {}): Promise<T> {
    const response = await this.raw(request, context);
    if (response.status >= 200 && response.status < 300) return response.body as T;
    if (isProblem(response.body)) throw fromProblem(response.body);
    throw new AppError('UNAVAILABLE', `${this.service} answered ${response.status}`);
  }
}
