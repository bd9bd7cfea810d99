import type { Money } from '@agora/kernel';
import type { cart, catalog, inventory, payment } from '@agora/contracts';
import { ServiceClient, callerHeaders, type ServiceTransport } from '@agora/platform';

/** The order service's view of the services it drives: each call is idempotent on its key. */
export class Collaborators {
  private readonly inventory: ServiceClient;
  private readonly payment: ServiceClient;
  private readonly cart: ServiceClient;
  private readonly catalog: ServiceClient;

  constructor(transport: ServiceTransport) {
    this.inventory = new ServiceClient('inventory', transport);
    this.payment = new ServiceClient('payment', transport);
    this.cart = new ServiceClient('cart', transport);
    this.catalog = new ServiceClient('catalog', transport);
  }

  cartLines(userId: string, requestId?: string): Promise<cart.CartLines> {
    return this.cart.call<cart.CartLines>(
      { method: 'GET', path: '/cart/lines', headers: callerHeaders({ userId, role: 'customer' }), idempotent: true },
      requestId ? { requestId } : {},
    );
  }

  checkedOut(userId: string, body: cart.CheckedOutBody): Promise<cart.CheckedOutResult> {
    return this.cart.call({ method: 'POST', path: '/cart/checked-out', body, headers: callerHeaders({ userId, role: 'customer' }) });
  }

  async variants(skus: readonly string[]): Promise<catalog.SkuVariant[]> {
    const page = await this.catalog.call<catalog.SkuVariantList>({
      method: 'GET',
      path: `/products/by-sku?skus=${skus.map(encodeURIComponent).join(',')}`,
      idempotent: true,
    });
    return page.items;
  }

  reserve(body: inventory.ReserveBody): Promise<inventory.Reservation> {
    return this.inventory.call({ method: 'POST', path: '/reservations', body });
  }

  commitReservation(id: string): Promise<inventory.Reservation> {
    return this.inventory.call({ method: 'POST', path: `/reservations/${id}/commit` });
  }

  releaseReservation(id: string): Promise<inventory.Reservation> {
    return this.inventory.call({ method: 'POST', path: `/reservations/${id}/release` });
  }

  restockReservation(id: string): Promise<inventory.Reservation> {
    return this.inventory.call({ method: 'POST', path: `/reservations/${id}/restock` });
  }

  authorize(body: payment.AuthorizeBody): Promise<payment.PaymentIntent> {
    return this.payment.call({ method: 'POST', path: '/payments/authorize', body });
  }

  capture(intentId: string, idempotencyKey: string): Promise<payment.PaymentIntent> {
    return this.payment.call({ method: 'POST', path: `/payments/${intentId}/capture`, body: { idempotencyKey } });
  }

  voidPayment(intentId: string, idempotencyKey: string): Promise<payment.PaymentIntent> {
    return this.payment.call({ method: 'POST', path: `/payments/${intentId}/void`, body: { idempotencyKey } });
  }

  refund(intentId: string, amount: Money, idempotencyKey: string): Promise<payment.PaymentIntent> {
    return this.payment.call({ method: 'POST', path: `/payments/${intentId}/refund`, body: { amount, idempotencyKey } });
  }

  async paymentsOf(orderId: string): Promise<payment.PaymentIntent[]> {
    const list = await this.payment.call<payment.PaymentList>({ method: 'GET', path: `/payments?orderId=${orderId}`, idempotent: true });
    return list.items;
  }
}
