import type { Money } from '@agora/kernel';
import type { CartPort, CatalogPort, InventoryPort, PaymentPort, ServicePorts, cart, catalog, inventory, payment } from '@agora/contracts';
import { HttpCartPort, HttpCatalogPort, HttpInventoryPort, HttpPaymentPort, type ServiceTransport } from '@agora/platform';

/**
 * The order service's view of the services it drives: each call is idempotent on its key. Each
 * collaborator is a typed port: the one given (in process with `agora start`), else the port over
 * `transport` (HTTP in the cluster). Either answers the same DTOs and fails with the same codes.
 */
export class Collaborators {
  private readonly inventory: InventoryPort;
  private readonly payment: PaymentPort;
  private readonly cart: CartPort;
  private readonly catalog: CatalogPort;

  constructor(transport: ServiceTransport, ports: Partial<ServicePorts> = {}) {
    this.inventory = ports.inventory ?? new HttpInventoryPort(transport);
    this.payment = ports.payment ?? new HttpPaymentPort(transport);
    this.cart = ports.cart ?? new HttpCartPort(transport);
    this.catalog = ports.catalog ?? new HttpCatalogPort(transport);
  }

  cartLines(userId: string, requestId?: string): Promise<cart.CartLines> {
    return this.cart.lines(userId, requestId ? { requestId } : {});
  }

  checkedOut(userId: string, body: cart.CheckedOutBody): Promise<cart.CheckedOutResult> {
    return this.cart.checkedOut(userId, body);
  }

  variants(skus: readonly string[]): Promise<catalog.SkuVariant[]> {
    return this.catalog.variants(skus);
  }

  reserve(body: inventory.ReserveBody): Promise<inventory.Reservation> {
    return this.inventory.reserve(body);
  }

  commitReservation(id: string): Promise<inventory.Reservation> {
    return this.inventory.commit(id);
  }

  releaseReservation(id: string): Promise<inventory.Reservation> {
    return this.inventory.release(id);
  }

  restockReservation(id: string): Promise<inventory.Reservation> {
    return this.inventory.restock(id);
  }

  authorize(body: payment.AuthorizeBody): Promise<payment.PaymentIntent> {
    return this.payment.authorize(body);
  }

  capture(intentId: string, idempotencyKey: string): Promise<payment.PaymentIntent> {
    return this.payment.capture(intentId, idempotencyKey);
  }

  voidPayment(intentId: string, idempotencyKey: string): Promise<payment.PaymentIntent> {
    return this.payment.void(intentId, idempotencyKey);
  }

  refund(intentId: string, amount: Money, idempotencyKey: string): Promise<payment.PaymentIntent> {
    return this.payment.refund(intentId, amount, idempotencyKey);
  }

  paymentsOf(orderId: string): Promise<payment.PaymentIntent[]> {
    return this.payment.paymentsOf(orderId);
  }
}
