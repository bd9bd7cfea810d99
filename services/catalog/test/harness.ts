import { EnvReader, ManualClock } from '@agora/kernel';
import { InProcessTransport, Metrics, TokenService, createLogger, type Caller, type HttpApp, type ReadinessCheck, type Storage, InMemoryEventBus } from '@agora/platform';
import { guardForTests, injectAs, type AssertedInjectOptions, type TestBackend } from '@agora/platform/testing';
import { catalogModule } from '../src/index.js';

export interface CatalogHarness {
  storage: Storage;
  app: HttpApp;
  clock: ManualClock;
  readiness: ReadinessCheck[];
  release(): Promise<void>;
}

/** A migrated, empty catalog on `backend`, guarded as in production and driven through `call` like the gateway does. */
export async function openCatalog(backend: TestBackend): Promise<CatalogHarness> {
  const opened = await backend.open();
  const folder = catalogModule.migrationsFolder;
  if (folder === undefined) throw new Error('catalog has no migrations folder');
  await opened.storage.migrate('catalog', folder);
  const clock = new ManualClock(new Date('2026-03-01T12:00:00Z'));
  const running = await catalogModule.create({
    storage: opened.storage,
    logger: createLogger('catalog', 'silent'),
    metrics: new Metrics(false),
    clock,
    env: new EnvReader({}),
    transport: new InProcessTransport(),
    tokens: new TokenService('test-secret-that-is-at-least-32-bytes-long'),
    bus: new InMemoryEventBus({ logger: createLogger('bus', 'silent') }),
  });
  guardForTests(running.app, 'catalog');
  await running.app.ready();
  return {
    storage: opened.storage,
    app: running.app,
    clock,
    readiness: running.readiness,
    async release() {
      await running.app.close();
      await opened.release();
    },
  };
}

export const ADMIN: Caller = { userId: '0190c0de-0000-7000-8000-000000000001', role: 'admin' };
export const CUSTOMER: Caller = { userId: '0190c0de-0000-7000-8000-000000000002', role: 'customer' };

export interface Reply<T> {
  status: number;
  body: T;
  contentType: string;
}

/** A request as the gateway sends it: with a caller assertion for `options.caller` (none: anonymous). */
export async function call<T = Record<string, unknown>>(app: HttpApp, options: AssertedInjectOptions): Promise<Reply<T>> {
  const response = await injectAs(app, 'catalog', options);
  const contentType = String(response.headers['content-type'] ?? '');
  const body = (contentType.includes('json') && response.body.length > 0 ? JSON.parse(response.body) : response.body) as T;
  return { status: response.statusCode, body, contentType };
}

export interface ProblemBody {
  status: number;
  code: string;
  detail: string;
  errors?: { path: string; message: string }[];
}

let counter = 0;
/** A SKU no other test uses. */
export function uniqueSku(prefix = 'T'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

export function productBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Test Lamp',
    description: 'A lamp for tests',
    category: 'test-things',
    variants: [{ sku: uniqueSku(), title: 'Standard', price: { amount: 1999, currency: 'USD' } }],
    ...overrides,
  };
}
