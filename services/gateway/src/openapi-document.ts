import { randomBytes } from 'node:crypto';
import { EnvReader } from '@agora/kernel';
import { Metrics, TokenService, createLogger, type ServiceTransport } from '@agora/platform';
import { createGateway } from './gateway.js';
import { loadGatewayConfig } from './config.js';

/** Building the document never reaches a service: a transport that is never called. */
const NO_TRANSPORT: ServiceTransport = {
  request: () => Promise.reject(new Error('the OpenAPI document is built without services')),
};

/**
 * The OpenAPI document exactly as a running gateway serves it at `/api/openapi.json`: the
 * gateway's own builder (every route area, the cluster and the shards routes), with nothing listening and no
 * service behind it. Used to lint the published document (`npm run lint:openapi`).
 */
export async function buildOpenApiDocument(): Promise<Record<string, unknown>> {
  const app = await createGateway({
    transport: NO_TRANSPORT,
    tokens: new TokenService(randomBytes(32).toString('base64url')),
    logger: createLogger('openapi-document', 'silent'),
    metrics: new Metrics(false),
    config: loadGatewayConfig(new EnvReader({ AGORA_RATE_LIMITS: 'off' })),
    readiness: () => [],
    cluster: () => Promise.reject(new Error('no cluster behind the document builder')),
    shards: () => Promise.reject(new Error('no shards behind the document builder')),
  });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}
