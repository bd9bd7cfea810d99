import { AppError, type Clock } from '@agora/kernel';
import type { cart, catalog } from '@agora/contracts';
import type { CallContext } from '@agora/platform';
import { priceCart, type CartLine } from '../domain/cart.js';
import type { CartStore } from '../store/cart-store.js';
import type { CatalogLookup } from './catalog.js';

/**
 * The caller's cart. Lines are stored; prices are read from the catalog on every view, so the cart
 * always shows current prices (the order service re-reads them at checkout and snapshots them).
 */
export class CartService {
  constructor(
    private readonly store: CartStore,
    private readonly catalog: CatalogLookup,
    private readonly clock: Clock,
  ) {}

  async view(userId: string, context: CallContext): Promise<cart.Cart> {
    return this.priced(await this.store.lines(userId), context);
  }

  async lines(userId: string): Promise<cart.CartLines> {
    return { lines: await this.store.lines(userId) };
  }

  async add(userId: string, body: cart.AddItemBody, context: CallContext): Promise<cart.Cart> {
    const [variant] = await this.catalog.variants([body.sku], context);
    if (!variant || variant.sku !== body.sku) {
      throw new AppError('NOT_FOUND', `SKU ${body.sku} not found`, { errors: [{ path: 'sku', message: 'is not sold in the catalog' }] });
    }
    const lines = await this.store.add(userId, body.sku, body.quantity, this.clock.now());
    // The variant just read prices its own line: only the cart's other SKUs go to the catalog.
    return this.priced(lines, context, variant);
  }

  async setQuantity(userId: string, sku: string, quantity: number, context: CallContext): Promise<cart.Cart> {
    return this.priced(await this.store.setQuantity(userId, sku, quantity, this.clock.now()), context);
  }

  async remove(userId: string, sku: string, context: CallContext): Promise<cart.Cart> {
    return this.priced(await this.store.remove(userId, sku, this.clock.now()), context);
  }

  /** No catalog call: the order service's last checkout step must not depend on the catalog. */
  async checkedOut(userId: string, body: cart.CheckedOutBody): Promise<cart.CheckedOutResult> {
    const result = await this.store.checkedOut(userId, body.orderId, body.lines, this.clock.now());
    return { orderId: body.orderId, applied: result.applied, lines: result.lines };
  }

  private async priced(lines: CartLine[], context: CallContext, known?: catalog.SkuVariant): Promise<cart.Cart> {
    const wanted = lines.map((l) => l.sku).filter((sku) => sku !== known?.sku);
    const fetched = await this.catalog.variants(wanted, context);
    return priceCart(lines, known ? [known, ...fetched] : fetched);
  }
}
