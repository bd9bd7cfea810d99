import { EnvReader, ManualClock } from '@agora/kernel';
import type { LightMyRequestResponse } from 'fastify';
import { InMemoryEventBus, InProcessTransport, Metrics, TokenService, createLogger, type RunningService, type Storage } from '@agora/platform';
import { guardForTests, injectAs, type AssertedInjectOptions } from '@agora/platform/testing';
import { identityModule } from '../src/index.js';

export const TOKEN_SECRET = 'identity-test-secret-that-is-long-enough-0123456789';

export interface Harness {
  service: RunningService;
  tokens: TokenService;
  clock: ManualClock;
  /** A request as the gateway sends it: with a caller assertion for `options.caller` (none: anonymous). */
  send(options: AssertedInjectOptions): Promise<LightMyRequestResponse>;
}

/** The service as `agora start` builds it (its routes guarded), over a storage the identity migrations ran on. */
export async function startIdentity(storage: Storage, clock = new ManualClock()): Promise<Harness> {
  const tokens = new TokenService(TOKEN_SECRET);
  const service = await identityModule.create({
    storage,
    logger: createLogger('identity', 'silent'),
    metrics: new Metrics(false),
    clock,
    env: new EnvReader({}),
    transport: new InProcessTransport(),
    tokens,
    bus: new InMemoryEventBus({ logger: createLogger('bus', 'silent') }),
  });
  guardForTests(service.app, 'identity');
  await service.start();
  return { service, tokens, clock, send: (options) => injectAs(service.app, 'identity', options) };
}

let counter = 0;
/** A fresh, unique e-mail per call, so tests in one suite never collide. */
export function uniqueEmail(tag: string): string {
  counter += 1;
  return `${tag}-${counter}-${Date.now().toString(36)}@example.com`;
}

export interface ProblemBody {
  code: string;
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
}
