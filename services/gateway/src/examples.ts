import type { Static } from 'typebox';
import type { ClusterView, ShardOverview, cart, catalog, identity, inventory, order } from '@agora/contracts';

/**
 * Example bodies for the OpenAPI document, one per request and response schema of the public API.
 * Typed by their schemas, so a contract change that breaks one fails the typecheck; the document's
 * linter (`npm run lint:openapi`) checks them against the published schemas too.
 */
const USER_ID = '0190c6d2-1b2a-7c3d-8e4f-5a6b7c8d9e0f';
const PRODUCT_ID = '0190c6d2-7a1e-7c3b-9d4e-5f6a7b8c9d0e';
const ORDER_ID = '0190c6d3-0a1b-7c2d-8e3f-4a5b6c7d8e9f';
const AT = '2026-12-07T10:15:30.000Z';
const usd = (amount: number) => ({ amount, currency: 'USD' });

const user: identity.User = { id: USER_ID, email: 'ann@example.com', name: 'Ann Example', role: 'customer' };
const authResult: identity.AuthResult = { user, token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMTkwYzZkMi0xYjJhIn0.c2lnbmF0dXJl' };

const product: Static<typeof catalog.Product> = {
  id: PRODUCT_ID,
  name: 'Organic cotton T-shirt',
  description: 'Heavyweight, garment-dyed.',
  category: 'apparel',
  variants: [
    { sku: 'TEE-BLK-M', title: 'Black, M', price: usd(2500), available: 42 },
    { sku: 'TEE-BLK-L', title: 'Black, L', price: usd(2500), available: 0 },
  ],
  image: { src: `/api/v1/products/${PRODUCT_ID}/images/g-5d1c0e9a7f3b2c41.svg`, srcset: '', width: 800, height: 800, alt: 'Organic cotton T-shirt', generated: true },
  createdAt: AT,
  updatedAt: AT,
};

const createProduct: catalog.CreateProductBody = {
  name: 'Organic cotton T-shirt',
  description: 'Heavyweight, garment-dyed.',
  category: 'apparel',
  variants: [
    { sku: 'TEE-BLK-M', title: 'Black, M', price: usd(2500) },
    { sku: 'TEE-BLK-L', title: 'Black, L', price: usd(2500) },
  ],
};

const cartBody: cart.Cart = {
  items: [
    {
      sku: 'TEE-BLK-M',
      productId: PRODUCT_ID,
      productName: 'Organic cotton T-shirt',
      title: 'Black, M',
      quantity: 2,
      unitPrice: usd(2500),
      lineTotal: usd(5000),
    },
  ],
  subtotal: usd(5000),
  itemCount: 2,
  unavailable: [],
};

const shippingAddress: order.ShippingAddress = { name: 'Ann Example', line1: '1 Market Street', city: 'Springfield', postalCode: '12345', country: 'US' };

const confirmedOrder: order.Order = {
  id: ORDER_ID,
  userId: USER_ID,
  status: 'CONFIRMED',
  lines: [{ sku: 'TEE-BLK-M', title: 'Black, M', quantity: 2, unitPrice: usd(2500), lineTotal: usd(5000) }],
  total: usd(5000),
  shippingAddress,
  createdAt: AT,
  updatedAt: AT,
  history: [
    { status: 'PENDING', at: AT },
    { status: 'CONFIRMED', at: AT },
  ],
};

const clusterView: ClusterView = {
  mode: 'cluster',
  generatedAt: AT,
  services: [
    {
      name: 'catalog',
      strategy: 'least-outstanding',
      instances: [
        { id: 'catalog-1', url: 'http://10.0.0.5:7102', zone: 'a', version: '0.1.0', weight: 100, state: 'up', lastHeartbeatAt: AT, heartbeatAgeMs: 840 },
      ],
    },
  ],
  breakers: [{ service: 'catalog', instanceId: 'catalog-1', url: 'http://10.0.0.5:7102', state: 'closed', consecutiveFailures: 0 }],
  shards: [{ service: 'cart', id: 'cart-0', version: 1 }],
};

const shardOverview: ShardOverview = {
  generatedAt: AT,
  services: [
    {
      service: 'order',
      counted: 'orders',
      version: 3,
      strategy: 'hash',
      createdAt: AT,
      members: [
        { id: 's0', where: 'main database', weight: 1, share: 0.4977, range: null, shoppers: 5021, rows: 12873, error: null },
        { id: 's1', where: 'db-2.internal:5432/agora_order_s1', weight: 1, share: 0.5023, range: null, shoppers: 4979, rows: 12690, error: null },
      ],
      move: { fromVersion: 2, toVersion: 3, phase: 'clean-up', outcome: 'done', detail: { movedKeys: 4979, copiedRows: 31544 }, startedAt: AT, updatedAt: AT },
    },
  ],
};

export const EXAMPLES = {
  registerBody: { email: 'ann@example.com', password: 'correct horse battery', name: 'Ann Example' } satisfies identity.RegisterBody,
  loginBody: { email: 'ann@example.com', password: 'correct horse battery' } satisfies identity.LoginBody,
  authResult,
  user,
  product,
  productPage: { items: [product], nextCursor: 'eyJvZmZzZXQiOjIwfQ' } satisfies Static<typeof catalog.ProductPage>,
  categoryList: { items: [{ category: 'apparel', productCount: 100 }, { category: 'books', productCount: 100 }] } satisfies Static<typeof catalog.CategoryList>,
  createProduct,
  updateProduct: { description: 'Heavyweight, garment-dyed, pre-shrunk.' } satisfies catalog.UpdateProductBody,
  availability: { sku: 'TEE-BLK-M', available: 42 } satisfies inventory.Availability,
  setStock: { onHand: 50 } satisfies inventory.SetStockBody,
  stockLevel: { sku: 'TEE-BLK-M', onHand: 50, reserved: 8, available: 42 } satisfies inventory.StockLevel,
  cart: cartBody,
  addItem: { sku: 'TEE-BLK-M', quantity: 2 } satisfies cart.AddItemBody,
  updateItem: { quantity: 3 } satisfies cart.UpdateItemBody,
  checkout: { payment: { method: 'card', token: 'tok_visa' }, shippingAddress } satisfies order.CheckoutBody,
  pay: { payment: { method: 'card', token: 'tok_visa' } } satisfies order.PayBody,
  order: confirmedOrder,
  pendingOrder: { ...confirmedOrder, status: 'PENDING', history: [{ status: 'PENDING', at: AT }] } satisfies order.Order,
  cancelledOrder: { ...confirmedOrder, status: 'CANCELLED', history: [...confirmedOrder.history, { status: 'CANCELLED', at: AT, reason: 'cancelled by the customer' }] } satisfies order.Order,
  orderPage: { items: [confirmedOrder], nextCursor: null } satisfies Static<typeof order.OrderPage>,
  clusterView,
  shardOverview,
  webhookReceived: { received: true },
};
