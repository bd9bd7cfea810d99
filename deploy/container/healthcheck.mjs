// The image's HEALTHCHECK: healthy when this container's agora process answers GET /health/ready
// with 200 (its dependencies answer, it is not draining). A service listens only on the address it
// advertises (AGORA_ADVERTISE_HOST, else HOST unless a wildcard, else loopback) on
// AGORA_SERVICE_PORT; a gateway on HOST:PORT. One process runs per container, so the check asks
// each candidate port and is healthy when one of them says ready.
import process from 'node:process';

/* global fetch, AbortSignal -- Node's own (18+) */
const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::']);
const TIMEOUT_MS = 2_500;
const DEFAULT_PORT = '8080';

const env = process.env;
const host = env.AGORA_ADVERTISE_HOST ?? (WILDCARD_HOSTS.has(env.HOST ?? '') ? '127.0.0.1' : env.HOST);
const authority = host.includes(':') ? `[${host}]` : host;
const ports = [...new Set([env.AGORA_SERVICE_PORT ?? DEFAULT_PORT, env.PORT ?? DEFAULT_PORT])];

async function ready(port) {
  try {
    const response = await fetch(`http://${authority}:${port}/health/ready`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    return response.status === 200;
  } catch {
    return false;
  }
}

const answers = await Promise.all(ports.map(ready));
process.exit(answers.includes(true) ? 0 : 1);
