import { EnvReader, ManualClock } from '@agora/kernel';
import { InMemoryEventBus, InProcessTransport, Metrics, TokenService, callerHeaders, createLogger, type Caller, type RunningService, type Storage } from '@agora/platform';
import { identityModule } from '../src/index.js';

export const TOKEN_SECRET = 'identity-test-secret-that-is-long-enough-0123456789';

export interface Harness {
  service: RunningService;
  tokens: TokenService;
  clock: ManualClock;
}

/** The service as `agora start` builds it, over a storage the identity migrations ran on. */
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
  await service.start();
  return { service, tokens, clock };
}

export const asCaller = (caller: Caller): Record<string, string> => callerHeaders(caller);

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
