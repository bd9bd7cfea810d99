import { CALLER_ASSERTION_HEADER, type CallerAssertionSigner } from '../http/caller-assertion.js';
import type { ServiceRequest, ServiceResponse, ServiceTransport } from './transport.js';

/**
 * Every call of one process (`issuer`: the gateway or a service's name) carries a caller assertion
 * for the service called, naming the request's `caller` when there is one (docs/security.md). The
 * composition root wraps each process's transport in it; the signer's cache keeps this to a map
 * lookup per call. An assertion the request already carried is replaced, never forwarded.
 */
export class AssertingTransport implements ServiceTransport {
  constructor(
    private readonly inner: ServiceTransport,
    private readonly signer: CallerAssertionSigner,
    readonly issuer: string,
  ) {}

  async request(service: string, request: ServiceRequest): Promise<ServiceResponse> {
    const assertion = await this.signer.assertion(this.issuer, service, request.caller);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers ?? {})) {
      if (name.toLowerCase() !== CALLER_ASSERTION_HEADER) headers[name] = value;
    }
    headers[CALLER_ASSERTION_HEADER] = assertion;
    return this.inner.request(service, { ...request, headers });
  }
}
