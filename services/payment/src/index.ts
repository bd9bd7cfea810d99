import { fileURLToPath } from 'node:url';
import { AppError } from '@agora/kernel';
import { payment } from '@agora/contracts';
import { OutboxRelay, createHttpApp, type RunningService, type ServiceDeps, type ServiceModule } from '@agora/platform';
import { loadPaymentConfig, type PaymentConfig } from './app/config.js';
import { Payments, type PaymentNotifier } from './app/payments.js';
import type { PaymentProvider } from './app/provider.js';
import { registerPaymentRoutes } from './http/routes.js';
import { registerWebhookRoutes } from './http/webhooks.js';
import { InProcessPaymentPort } from './port.js';
import { SANDBOX_PROVIDER, SandboxProvider, type RecalledCharge } from './sandbox/sandbox-provider.js';
import { PaymentStore, type IntentRecord } from './store/payment-store.js';

export const PAYMENT_SERVICE = 'payment';
export const PAYMENT_MIGRATIONS = fileURLToPath(new URL('./store/migrations', import.meta.url));

export interface ProviderContext {
  /** The built-in sandbox, already wired to deliver its webhooks to this service. */
  sandbox: SandboxProvider;
  deps: ServiceDeps;
  config: PaymentConfig;
}

export interface PaymentModuleOptions {
  /**
   * Told after `payment.settled` / `payment.captured` facts are committed to `payment.outbox`: a fast
   * path only. The outbox row is the durable record; an OutboxRelay on schema `payment` publishes it.
   */
  notifier?: PaymentNotifier;
  /** The provider to use; default the sandbox. Receives the sandbox so tests can wrap it. */
  provider?: (context: ProviderContext) => PaymentProvider;
  /** Overrides of what the environment configures (tests: fast retries, short async delay). */
  config?: Partial<Omit<PaymentConfig, 'retry' | 'lease'>> & { retry?: Partial<PaymentConfig['retry']>; lease?: Partial<PaymentConfig['lease']> };
}

/** A running payment service, with its parts exposed for the composition root and tests. */
export interface PaymentService extends RunningService {
  payments: Payments;
  provider: PaymentProvider;
  sandbox: SandboxProvider;
  store: PaymentStore;
  config: PaymentConfig;
}

export interface PaymentModule extends ServiceModule {
  create(deps: ServiceDeps): Promise<PaymentService>;
}

/** Pending sandbox charges taken on again at start, at most (the rest settle at the next start). */
const SANDBOX_RESUME_LIMIT = 1_000;

/** What the sandbox would know of an intent's charge, had it not lost its memory with its process. */
function recalledCharge(row: IntentRecord | undefined): RecalledCharge | undefined {
  if (!row?.providerRef) return undefined;
  const states: Partial<Record<IntentRecord['status'], RecalledCharge['state']>> = {
    PENDING: 'pending',
    AUTHORIZED: 'authorized',
    DECLINED: 'declined',
    CAPTURED: 'captured',
    REFUNDED: 'captured',
    VOIDED: 'voided',
  };
  const state = states[row.status];
  if (!state) return undefined;
  return {
    ref: row.providerRef,
    intentId: row.id,
    amount: { amount: row.amount, currency: row.currency },
    state,
    captured: row.capturedAmount,
    refunded: row.refundedAmount,
  };
}

function resolveConfig(deps: ServiceDeps, overrides: PaymentModuleOptions['config'] = {}): PaymentConfig {
  const base = loadPaymentConfig(deps.env);
  const { retry, lease, ...rest } = overrides;
  return { ...base, ...rest, retry: { ...base.retry, ...retry }, lease: { ...base.lease, ...lease } };
}

export function createPaymentModule(options: PaymentModuleOptions = {}): PaymentModule {
  return {
    name: PAYMENT_SERVICE,
    migrationsFolder: PAYMENT_MIGRATIONS,
    async create(deps: ServiceDeps): Promise<PaymentService> {
      const config = resolveConfig(deps, options.config);
      const logger = deps.logger;
      if (config.webhookSecretGenerated) {
        logger.info('AGORA_PAYMENT_WEBHOOK_SECRET is not set: webhooks are signed with a random per-process secret (set it when running more than one payment process)');
      }
      const store = new PaymentStore(deps.storage);
      const sandbox = new SandboxProvider({
        secret: config.webhookSecret,
        // The sandbox's ledger is this process's memory: after a restart it relearns charges from our intents.
        recall: async (providerRef) => recalledCharge(await store.findByProviderRef(SANDBOX_PROVIDER, providerRef)),
        clock: deps.clock,
        asyncDelayMs: config.sandboxAsyncDelayMs,
        logger,
        // Through the transport like any caller: over HTTP in the cluster, in process with `agora start`.
        async deliver(delivery) {
          const response = await deps.transport.request(PAYMENT_SERVICE, {
            method: 'POST',
            path: `/webhooks/${SANDBOX_PROVIDER}`,
            // The signed bytes as they are; `body` serialises to the same text for transports without rawBody.
            rawBody: delivery.rawBody,
            body: delivery.event,
            headers: { [payment.WEBHOOK_SIGNATURE_HEADER]: delivery.signature },
          });
          if (response.status < 200 || response.status >= 300) throw new AppError('UNAVAILABLE', `webhook answered ${response.status}`);
        },
      });
      const provider = options.provider ? options.provider({ sandbox, deps, config }) : sandbox;
      // Facts committed to payment.outbox reach the bus through this relay; the notifier pokes it.
      const relay = new OutboxRelay({ storage: deps.storage, schema: PAYMENT_SERVICE, bus: deps.bus, logger, metrics: deps.metrics });
      const notifier: PaymentNotifier = {
        onSettled: async (fact, envelope) => {
          relay.poke();
          await options.notifier?.onSettled?.(fact, envelope);
        },
        onCaptured: async (fact, envelope) => {
          relay.poke();
          await options.notifier?.onCaptured?.(fact, envelope);
        },
      };
      const payments = new Payments({
        store,
        provider,
        clock: deps.clock,
        logger,
        retry: config.retry,
        lease: config.lease,
        notifier,
      });

      const app = createHttpApp({ name: PAYMENT_SERVICE, logger, metrics: deps.metrics });
      registerPaymentRoutes(app, payments);
      registerWebhookRoutes(app, { provider: SANDBOX_PROVIDER, secret: config.webhookSecret, clock: deps.clock, handle: (event) => payments.handleWebhook(event) });

      return {
        name: PAYMENT_SERVICE,
        app,
        payments,
        provider,
        sandbox,
        store,
        config,
        readiness: [{ name: 'database', check: () => deps.storage.ping() }],
        ports: { payment: new InProcessPaymentPort(payments, logger) },
        async start() {
          relay.start();
          // Pending charges of a process that died before they settled: settle them, webhook and all.
          const pending = await store.pendingAtProvider(SANDBOX_PROVIDER, SANDBOX_RESUME_LIMIT);
          const resumed = sandbox.resumePending(pending.flatMap((row) => recalledCharge(row) ?? []));
          if (resumed > 0) logger.info({ resumed }, 'sandbox: pending charges left by an earlier process taken on again');
        },
        async stop() {
          await sandbox.stop();
          await relay.stop();
          await app.close();
        },
      };
    },
  };
}

/** The payment service as `agora start` runs it: the sandbox provider, facts in `payment.outbox`. */
export const paymentModule: PaymentModule = createPaymentModule();

export { Payments, providerKeys, type PaymentNotifier } from './app/payments.js';
export type { PaymentProvider, AuthorizeRequest, AuthorizeResult, OperationResult } from './app/provider.js';
export { PAYMENT_DEFAULTS, type PaymentConfig } from './app/config.js';
export { SandboxProvider } from './sandbox/sandbox-provider.js';
export { signatureHeader } from './domain/signature.js';
export type { PaymentStatus } from './domain/intent.js';
export { PaymentStore, paymentFacts } from './store/payment-store.js';
export { paymentTotals, paymentInvariantViolations } from './store/totals.js';
// The intent rules the deterministic simulation's payment model applies (apps/agora/src/sim).
export { decideCapture, decideVoid, assertRefundable, assertAuthorizable, type IntentState } from './domain/intent.js';
