import { catalogRoutes } from './catalog.js';
import { identityRoutes } from './identity.js';
import { inventoryRoutes } from './inventory.js';
import { cartRoutes } from './cart.js';
import { orderRoutes } from './orders.js';
import { paymentRoutes } from './payments.js';
import { flashSaleRoutes } from './flash-sales.js';
import { overviewRoutes } from './overview.js';
import type { RouteArea } from './context.js';

export type { RouteArea, RouteContext } from './context.js';
export type { WebAppMount } from './web.js';

/**
 * Every area of the public API, one file each. Later areas go here in the same shape:
 * cart (`/api/v1/cart*`), checkout (`/api/v1/checkout`), orders (`/api/v1/orders*`,
 * `/api/v1/admin/orders`), flash sales (`/api/v1/flash-sales*`, `/api/v1/admin/flash-sales`)
 * and cluster (`/api/v1/admin/cluster`). Add the service name to `SERVICE_NAMES` in packages/contracts/src/services.ts.
 */
export const ROUTE_AREAS: readonly RouteArea[] = [identityRoutes, catalogRoutes, inventoryRoutes, cartRoutes, orderRoutes, paymentRoutes, flashSaleRoutes, overviewRoutes];
