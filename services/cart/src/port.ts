import { AppError, isUuid } from '@agora/kernel';
import type { CartPort, PortCallOptions, cart } from '@agora/contracts';
import { InProcessBoundary, type Logger } from '@agora/platform';
import type { CartService } from './app/cart-service.js';

/**
 * The cart port in process: the cart routes' application object, called directly (by the order
 * service for the lines it checks out, by the gateway for an add to cart). The routes
 * take the cart's owner from the caller headers and refuse a caller that is not a user before
 * anything else; here the user id comes explicitly and is checked the same way.
 */
export class InProcessCartPort implements CartPort {
  private readonly boundary: InProcessBoundary;

  constructor(
    private readonly carts: CartService,
    logger: Logger,
  ) {
    this.boundary = new InProcessBoundary('cart', logger);
  }

  add(userId: string, body: cart.AddItemBody, options: PortCallOptions = {}): Promise<cart.Cart> {
    return this.boundary.run('add', async () => this.carts.add(owner(userId), body, options.requestId ? { requestId: options.requestId } : {}));
  }

  lines(userId: string): Promise<cart.CartLines> {
    return this.boundary.run('lines', async () => this.carts.lines(owner(userId)));
  }

  checkedOut(userId: string, body: cart.CheckedOutBody): Promise<cart.CheckedOutResult> {
    return this.boundary.run('checkedOut', async () => this.carts.checkedOut(owner(userId), body));
  }
}

/** As the routes' `cartOwner`: an absent caller and one that is not a user are both UNAUTHENTICATED. */
function owner(userId: string): string {
  if (userId.length === 0) throw new AppError('UNAUTHENTICATED', 'A bearer token is required');
  if (!isUuid(userId)) throw new AppError('UNAUTHENTICATED', 'The caller is not a user');
  return userId;
}
