import { EnvReader, systemClock } from '@agora/kernel';
import type { ServicePorts } from '@agora/contracts';
import { InMemoryEventBus, InProcessTransport, Metrics, TokenService, createLogger, httpPorts, type RunningService, type ServiceModule } from '@agora/platform';
import { assertingForTests, guardForTests, pgliteBackend, postgresBackend } from '@agora/platform/testing';
import { catalogModule, seedDemoCatalog } from '@agora/catalog';
import { inventoryModule, StockStore } from '@agora/inventory';
import { cartModule } from '@agora/cart';
import { paymentModule } from '@agora/payment';
import { createOrderModule } from '@agora/order';
import { collectPorts } from '@agora/cli';

/** The callees of the order service, in `agora start`'s order, then the order service (the gateway's callee). */
const MODULES: readonly ServiceModule[] = [catalogModule, inventoryModule, cartModule, paymentModule, createOrderModule()];

/** Units on hand of the plentiful SKU: far more than every test of the suite reserves together. */
export const PLENTY = 10_000;
/** Units on hand of the scarce SKU: a reservation of SCARCE + 1 is short. */
export const SCARCE = 1;

export interface PortSystem {
  /** The ports over the services' application objects. */
  inProcess: ServicePorts;
  /** The ports over the services' HTTP routes (Fastify inject through InProcessTransport), asserted as their caller would be (the order port's by the gateway, the others' by the order service). */
  http: ServicePorts;
  /** To the services' guarded routes, without caller assertions (ServiceRequest.caller is not sent). */
  transport: InProcessTransport;
  /** SKUs in the catalog: `plenty` has PLENTY units on hand, `scarce` SCARCE. */
  skus: { plenty: string; scarce: string };
  stop(): Promise<void>;
}

/**
 * The four services the order service calls, and the order service, on one fresh database (PostgreSQL when it runs, else
 * PGlite), each reachable both ways.
 */
export interface PortSystemOptions {
  /** The ports the order service is given, in place of the callees' own (to slow one down, say). */
  orderCallees?: (ports: Partial<ServicePorts>) => Partial<ServicePorts>;
  /** Environment of every service, beside the webhook secret (AGORA_CHECKOUT_MAX_IN_FLIGHT, say). */
  env?: Record<string, string>;
}

export async function startPortSystem(options: PortSystemOptions = {}): Promise<PortSystem> {
  const backend = (await postgresBackend.available()) ? postgresBackend : pgliteBackend;
  const { storage, release } = await backend.open();
  const logger = createLogger('ports-test', 'silent');
  const bus = new InMemoryEventBus({ logger });
  const transport = new InProcessTransport();
  const ports: Partial<ServicePorts> = {};
  const services: RunningService[] = [];
  const stop = async (): Promise<void> => {
    for (const service of services.reverse()) await service.stop();
    await bus.close();
    await release();
  };
  try {
    for (const module of MODULES) if (module.migrationsFolder) await storage.migrate(module.name, module.migrationsFolder);
    const env = new EnvReader({ AGORA_PAYMENT_WEBHOOK_SECRET: 'ports-test-webhook-secret-0123456789', ...options.env });
    for (const module of MODULES) {
      const service = await module.create({
        storage,
        logger,
        metrics: new Metrics(),
        clock: systemClock,
        env,
        transport: assertingForTests(transport, module.name),
        tokens: new TokenService('ports-test-secret-ports-test-secret-0123456789'),
        bus,
        ports: module.name === 'order' && options.orderCallees ? options.orderCallees({ ...ports }) : { ...ports },
      });
      services.push(service);
      guardForTests(service.app, module.name);
      transport.register(module.name, service.app);
      collectPorts(ports, service);
    }
    for (const service of services) await service.app.ready();
    const { skus } = await seedDemoCatalog(storage, { products: 2 });
    const [plenty, scarce] = skus;
    if (plenty === undefined || scarce === undefined) throw new Error(`the demo catalog has too few SKUs: ${skus.length}`);
    await new StockStore(storage).seedMissing([
      { sku: plenty, onHand: PLENTY },
      { sku: scarce, onHand: SCARCE },
    ]);
    const { inventory, payment, cart, catalog, order } = ports;
    if (!inventory || !payment || !cart || !catalog || !order) throw new Error(`a service offers no in-process port: ${Object.keys(ports).join(', ')}`);
    const http = { ...httpPorts(assertingForTests(transport, 'order')), order: httpPorts(assertingForTests(transport, 'gateway')).order };
    return { inProcess: { inventory, payment, cart, catalog, order }, http, transport, skus: { plenty, scarce }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
