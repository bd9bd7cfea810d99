import { EnvReader, newId, systemClock, type Money } from '@agora/kernel';
import type { events, payment } from '@agora/contracts';
import { InProcessTransport, Metrics, TokenService, createLogger, type ServiceDeps, type Storage, InMemoryEventBus } from '@agora/platform';
import {
  createPaymentModule,
  signatureHeader,
  type AuthorizeRequest,
  type AuthorizeResult,
  type OperationResult,
  type PaymentModuleOptions,
  type PaymentProvider,
  type PaymentService,
  type SandboxProvider,
} from '../src/index.js';

export const WEBHOOK_SECRET = 'payment-test-webhook-secret-0123456789';

/** Wraps the sandbox: records every call and can simulate a crash (a non-provider error) once. */
export class RecordingProvider implements PaymentProvider {
  readonly name: string;
  readonly calls: { op: string; key: string }[] = [];
  crashNextAuthorize = false;
  /** While set, captures wait for it: lets a test hold one capture in flight. */
  captureGate: Promise<void> | undefined;

  constructor(private readonly inner: SandboxProvider) {
    this.name = inner.name;
  }

  callsWith(op: string, key: string): number {
    return this.calls.filter((c) => c.op === op && c.key === key).length;
  }

  async authorize(request: AuthorizeRequest): Promise<AuthorizeResult> {
    this.calls.push({ op: 'authorize', key: request.idempotencyKey });
    if (this.crashNextAuthorize) {
      this.crashNextAuthorize = false;
      throw new Error('simulated crash before the provider answered');
    }
    return this.inner.authorize(request);
  }

  async capture(providerRef: string, amount: Money, key: string): Promise<OperationResult> {
    this.calls.push({ op: 'capture', key });
    if (this.captureGate) await this.captureGate;
    return this.inner.capture(providerRef, amount, key);
  }

  void(providerRef: string, key: string): Promise<OperationResult> {
    this.calls.push({ op: 'void', key });
    return this.inner.void(providerRef, key);
  }

  refund(providerRef: string, amount: Money, key: string): Promise<OperationResult> {
    this.calls.push({ op: 'refund', key });
    return this.inner.refund(providerRef, amount, key);
  }
}

/** Collects what the notifier is told; `settledOf` resolves when a payment's settled fact arrives. */
export class NotifierLog {
  readonly settled: events.PaymentSettled[] = [];
  readonly captured: events.PaymentCaptured[] = [];
  private readonly waiting = new Map<string, (fact: events.PaymentSettled) => void>();

  settledOf(paymentId: string): Promise<events.PaymentSettled> {
    const known = this.settled.find((f) => f.paymentId === paymentId);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => this.waiting.set(paymentId, resolve));
  }

  onSettled = (fact: events.PaymentSettled): void => {
    this.settled.push(fact);
    this.waiting.get(fact.paymentId)?.(fact);
    this.waiting.delete(fact.paymentId);
  };

  onCaptured = (fact: events.PaymentCaptured): void => {
    this.captured.push(fact);
  };
}

/** What the composition root hands the payment service in these tests: quiet, the webhook secret set, an in-memory bus. */
export function paymentDeps(storage: Storage, transport: InProcessTransport = new InProcessTransport()): ServiceDeps {
  return {
    storage,
    logger: createLogger('payment', 'silent'),
    metrics: new Metrics(false),
    clock: systemClock,
    env: new EnvReader({ AGORA_PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET }),
    transport,
    tokens: new TokenService('x'.repeat(32)),
    bus: new InMemoryEventBus({ logger: createLogger('bus', 'silent') }),
  };
}

export interface Harness {
  service: PaymentService;
  provider: RecordingProvider;
  notifier: NotifierLog;
  transport: InProcessTransport;
}

/** The service as `agora start` builds it (fast retries, short sandbox delay), reachable as `payment` on its transport. */
export async function startPayment(storage: Storage, config: PaymentModuleOptions['config'] = {}): Promise<Harness> {
  const notifier = new NotifierLog();
  let provider: RecordingProvider | undefined;
  const transport = new InProcessTransport();
  const module = createPaymentModule({
    notifier,
    provider: ({ sandbox }) => (provider = new RecordingProvider(sandbox)),
    config: { sandboxAsyncDelayMs: 10, ...config, retry: { backoffMs: 1, ...config.retry } },
  });
  const service = await module.create(paymentDeps(storage, transport));
  transport.register('payment', service.app);
  await service.app.ready();
  await service.start();
  if (!provider) throw new Error('provider factory was not called');
  return { service, provider, notifier, transport };
}

export const usd = (amount: number): Money => ({ amount, currency: 'USD' });

export function authorizeBody(token: string, overrides: Partial<payment.AuthorizeBody> = {}): payment.AuthorizeBody {
  return { orderId: newId(), userId: newId(), amount: usd(1000), token, idempotencyKey: `auth-${newId()}`, ...overrides };
}

export interface ProblemBody {
  code: string;
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
}

/** A delivery signed like the provider signs it; `at` defaults to now. */
export function signed(event: unknown, options: { at?: Date; secret?: string; raw?: string } = {}): { payload: string; headers: Record<string, string> } {
  const raw = options.raw ?? JSON.stringify(event);
  const t = Math.floor((options.at ?? new Date()).getTime() / 1000);
  return { payload: raw, headers: { 'content-type': 'application/json', 'agora-signature': signatureHeader(options.secret ?? WEBHOOK_SECRET, t, raw) } };
}
