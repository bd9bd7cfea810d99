import { AppError } from '@agora/kernel';
import type { HttpApp } from '../http/app.js';
import type { ServiceRequest, ServiceResponse, ServiceTransport } from './transport.js';

/**
 * Calls services living in this process through Fastify's `inject`: the same routes, validation
 * and error mapping as over the network, without a socket.
 */
export class InProcessTransport implements ServiceTransport {
  private readonly apps = new Map<string, HttpApp>();

  register(service: string, app: HttpApp): void {
    this.apps.set(service, app);
  }

  async request(service: string, request: ServiceRequest): Promise<ServiceResponse> {
    const app = this.apps.get(service);
    if (!app) throw new AppError('UNAVAILABLE', `service ${service} is not running in this process`);
    const payload = request.rawBody ?? (request.body === undefined ? undefined : JSON.stringify(request.body));
    const response = await app.inject({
      method: request.method,
      url: request.path,
      headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...request.headers },
      ...(payload === undefined ? {} : { payload }),
    });
    const type = String(response.headers['content-type'] ?? '');
    const body: unknown = type.includes('json') && response.body.length > 0 ? JSON.parse(response.body) : response.body;
    const headers: Record<string, string | string[] | undefined> = {};
    for (const [name, value] of Object.entries(response.headers)) headers[name] = typeof value === 'number' ? String(value) : value;
    return { status: response.statusCode, headers, body };
  }
}
