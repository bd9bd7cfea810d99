import { AppError, fromProblem, isProblem, type Money } from '@agora/kernel';
import { catalog, inventory, type flashSale } from '@agora/contracts';
import type { CartPort, CatalogPort, CheckoutAnswer, InventoryPort, OrderPort, PaymentPort, PortCallOptions, PortCaller, ServicePorts, StorefrontText, cart, order, payment } from '@agora/contracts';
import { ServiceClient } from './client.js';
import type { ServiceTransport } from './transport.js';

/*
 * The typed ports over a ServiceTransport: the callee's internal routes, its schemas validating the
 * input, and a problem+json answer rebuilt into the AppError the callee raised (ServiceClient).
 * The cluster reaches every service this way; `agora start` may use in-process adapters instead.
 */

const segment = encodeURIComponent;

export class HttpInventoryPort implements InventoryPort {
  private readonly client: ServiceClient;

  constructor(transport: ServiceTransport) {
    this.client = new ServiceClient('inventory', transport);
  }

  reserve(body: inventory.ReserveBody): Promise<inventory.Reservation> {
    return this.client.call({ method: 'POST', path: '/reservations', body });
  }

  commit(reservationId: string): Promise<inventory.Reservation> {
    return this.client.call({ method: 'POST', path: `/reservations/${segment(reservationId)}/commit` });
  }

  release(reservationId: string): Promise<inventory.Reservation> {
    return this.client.call({ method: 'POST', path: `/reservations/${segment(reservationId)}/release` });
  }

  restock(reservationId: string): Promise<inventory.Reservation> {
    return this.client.call({ method: 'POST', path: `/reservations/${segment(reservationId)}/restock` });
  }

  async availability(skus: readonly string[]): Promise<inventory.Availability[]> {
    const lists = await Promise.all(
      inventory.skuBatches([...new Set(skus)]).map((batch) =>
        this.client.call<inventory.AvailabilityList>({ method: 'GET', path: `/inventory?skus=${batch.map(segment).join(',')}`, idempotent: true }),
      ),
    );
    return lists.flatMap((list) => list.items);
  }

  purchase(caller: PortCaller, saleId: string, idempotencyKey: string, quantity: number): Promise<flashSale.Ticket> {
    return this.client.call({ method: 'POST', path: `/flash-sales/${segment(saleId)}/purchase`, body: { quantity }, caller, headers: { 'idempotency-key': idempotencyKey } });
  }
}

export class HttpPaymentPort implements PaymentPort {
  private readonly client: ServiceClient;

  constructor(transport: ServiceTransport) {
    this.client = new ServiceClient('payment', transport);
  }

  authorize(body: payment.AuthorizeBody): Promise<payment.PaymentIntent> {
    return this.client.call({ method: 'POST', path: '/payments/authorize', body });
  }

  capture(intentId: string, idempotencyKey: string): Promise<payment.PaymentIntent> {
    return this.client.call({ method: 'POST', path: `/payments/${segment(intentId)}/capture`, body: { idempotencyKey } });
  }

  void(intentId: string, idempotencyKey: string): Promise<payment.PaymentIntent> {
    return this.client.call({ method: 'POST', path: `/payments/${segment(intentId)}/void`, body: { idempotencyKey } });
  }

  refund(intentId: string, amount: Money, idempotencyKey: string): Promise<payment.PaymentIntent> {
    return this.client.call({ method: 'POST', path: `/payments/${segment(intentId)}/refund`, body: { amount, idempotencyKey } });
  }

  async paymentsOf(orderId: string): Promise<payment.PaymentIntent[]> {
    const list = await this.client.call<payment.PaymentList>({ method: 'GET', path: `/payments?orderId=${segment(orderId)}`, idempotent: true });
    return list.items;
  }
}

/** The cart's routes take the user from the caller assertion, which names the cart's owner (ServiceRequest.caller). */
export class HttpCartPort implements CartPort {
  private readonly client: ServiceClient;

  constructor(transport: ServiceTransport) {
    this.client = new ServiceClient('cart', transport);
  }

  add(userId: string, body: cart.AddItemBody, options: PortCallOptions = {}): Promise<cart.Cart> {
    return this.client.call({ method: 'POST', path: '/cart/items', body, caller: { userId, role: 'customer' } }, contextOf(options));
  }

  lines(userId: string, options: PortCallOptions = {}): Promise<cart.CartLines> {
    return this.client.call(
      { method: 'GET', path: '/cart/lines', caller: { userId, role: 'customer' }, idempotent: true },
      contextOf(options),
    );
  }

  checkedOut(userId: string, body: cart.CheckedOutBody): Promise<cart.CheckedOutResult> {
    return this.client.call({ method: 'POST', path: '/cart/checked-out', body, caller: { userId, role: 'customer' } });
  }
}

export class HttpCatalogPort implements CatalogPort {
  private readonly client: ServiceClient;

  constructor(transport: ServiceTransport) {
    this.client = new ServiceClient('catalog', transport);
  }

  async variants(skus: readonly string[]): Promise<catalog.SkuVariant[]> {
    const page = await this.client.call<catalog.SkuVariantList>({ method: 'GET', path: `/products/by-sku?skus=${skus.map(segment).join(',')}`, idempotent: true });
    return page.items;
  }

  async storefrontProduct(id: string): Promise<StorefrontText> {
    const product = await this.client.call<catalog.CatalogProduct>({ method: 'GET', path: `/products/${segment(id)}`, idempotent: true, headers: STOREFRONT_HEADERS });
    return { json: JSON.stringify(product), withAvailability: catalog.carryAvailability([product]) };
  }

  async storefrontPage(query: catalog.ProductQuery): Promise<StorefrontText> {
    const page = await this.client.call<catalog.CatalogProductPage>({ method: 'GET', path: `/products${catalog.productQueryString(query)}`, idempotent: true, headers: STOREFRONT_HEADERS });
    return { json: JSON.stringify(page), withAvailability: catalog.carryAvailability(page.items) };
  }
}

const STOREFRONT_HEADERS = { [catalog.STOREFRONT_INCLUDE.header]: catalog.STOREFRONT_INCLUDE.value };

/** `POST /checkout` as the caller, its Idempotency-Key a header as at the gateway. */
export class HttpOrderPort implements OrderPort {
  private readonly client: ServiceClient;

  constructor(transport: ServiceTransport) {
    this.client = new ServiceClient('order', transport);
  }

  async checkout(caller: PortCaller, idempotencyKey: string | undefined, body: order.CheckoutBody, options: PortCallOptions = {}): Promise<CheckoutAnswer> {
    const headers: Record<string, string> = idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey };
    const response = await this.client.raw({ method: 'POST', path: '/checkout', body, caller, headers }, contextOf(options));
    if (isProblem(response.body)) throw withRetryAfter(fromProblem(response.body), response.headers['retry-after']);
    if (response.status !== 201 && response.status !== 202) throw new Error(`order answered a checkout with ${response.status} and no problem`);
    return { status: response.status, order: response.body as order.Order, replayed: response.headers['idempotent-replayed'] === 'true' };
  }
}

/** A shed checkout's problem keeps the wait its Retry-After header told (the gate's answer, docs/api.md). */
function withRetryAfter(error: AppError, header: string | string[] | undefined): AppError {
  const seconds = typeof header === 'string' ? Number(header) : Number.NaN;
  if (!Number.isInteger(seconds) || seconds <= 0) return error;
  return new AppError(error.code, error.message, { ...(error.errors ? { errors: error.errors } : {}), ...(error.extras ? { extras: error.extras } : {}), retryAfterSeconds: seconds });
}

function contextOf(options: PortCallOptions): { requestId?: string } {
  return options.requestId ? { requestId: options.requestId } : {};
}

/** Every port over one transport (what a service uses when its callees run in other processes). */
export function httpPorts(transport: ServiceTransport): ServicePorts {
  return {
    inventory: new HttpInventoryPort(transport),
    payment: new HttpPaymentPort(transport),
    cart: new HttpCartPort(transport),
    catalog: new HttpCatalogPort(transport),
    order: new HttpOrderPort(transport),
  };
}
